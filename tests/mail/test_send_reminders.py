"""`send-reminders` as cron runs it: every kind of reminder due at once, the command run again
and again, across a month boundary and after an outage. Each email goes out once."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import OutboxEmail
from pledges.services import mail_outbox, payment_problems, reminders
from tests.factories import make_contribution, make_pledge, make_supporter


def _fund_with_every_reminder_due() -> None:
    """On 30 November: a renewal on 2 December, a payment that failed on 27 November, a card
    that expires in December, and money given in November for the digest."""
    renewing = make_supporter("renewing@example.org")
    make_contribution(
        make_pledge(renewing, amount=15_00, next_charge_at=datetime(2026, 12, 2, 10, tzinfo=UTC)),
        gross=15_00,
        paid_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
    )
    failing = make_pledge(make_supporter("failing@example.org"), status="past_due")
    payment_problems.record(failing, invoice_id="in_failed", kind="failed", amount=10_00,
                            hosted_url=None, at=datetime(2026, 11, 27, 9, tzinfo=UTC))  # fmt: skip
    make_pledge(make_supporter("expiring@example.org", card_exp_year=2026, card_exp_month=12,
                               card_brand="visa", card_last4="4242"))  # fmt: skip
    db.session.commit()


def _queued_kinds() -> Counter:
    return Counter(db.session.scalars(select(OutboxEmail.kind)))


@pytest.mark.parametrize(
    "runs",
    [
        # hourly runs across the month boundary, one of them twice
        ["2026-11-30T22:00", "2026-11-30T23:00", "2026-12-01T00:00", "2026-12-01T00:00",
         "2026-12-01T01:00"],
        # a day's outage: nothing between 29 November and 2 December
        ["2026-11-29T12:00", "2026-12-02T08:00", "2026-12-02T09:00"],
    ],
    ids=["hourly", "after-an-outage"],
)  # fmt: skip
def test_every_kind_goes_out_once_however_often_cron_runs(app, smtp, runs):
    with app.app_context():
        _fund_with_every_reminder_due()
        for run in runs:
            reminders.queue_due(now=datetime.fromisoformat(run).replace(tzinfo=UTC))
            db.session.commit()
        kinds = _queued_kinds()
    # The failed payment's first email came from the event itself; cron adds day 3 once.
    assert kinds["payment-failed"] == 2
    assert kinds["upcoming-charge"] == 1
    assert kinds["digest"] == 1
    assert kinds["card-expiring"] == 1

    with app.app_context():
        # Delivered now: the rows were queued at the real time, whatever day the runs played.
        report = mail_outbox.deliver_due(limit=100)
    received = Counter((m["To"], m["Message-ID"]) for m in smtp.messages)
    assert all(count == 1 for count in received.values())
    assert report.sent == len(smtp.messages) == sum(kinds.values())
    by_recipient = Counter(m["To"] for m in smtp.messages)
    assert by_recipient["renewing@example.org"] == 2  # upcoming charge and the digest
    assert by_recipient["failing@example.org"] == 2
