"""Upcoming-charge reminders: `send-reminders` run again and again, at any hour, sends each
once; Stripe's `invoice.upcoming` for the same renewal adds nothing; a pause or a change of
plan after queuing means it is not sent."""

from datetime import timedelta

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import OutboxEmail, Pledge
from pledges.models.types import utcnow
from pledges.services import mail_outbox, reminders
from tests.factories import make_pledge, make_supporter


def _count(kind: str = "upcoming-charge") -> int:
    return db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == kind)
    )


def test_each_renewal_is_reminded_once_and_only_when_due(app, runner, smtp):
    now = utcnow()
    with app.app_context():
        soon = make_pledge(make_supporter("soon@example.org"), amount=12_00,
                           next_charge_at=now + timedelta(days=2))  # fmt: skip
        make_pledge(make_supporter("later@example.org"), next_charge_at=now + timedelta(days=9))
        make_pledge(make_supporter("quiet@example.org", wants_reminders=False),
                    next_charge_at=now + timedelta(days=1))  # fmt: skip
        make_pledge(make_supporter("paused@example.org"), status="paused",
                    next_charge_at=now + timedelta(days=1))  # fmt: skip
        soon_id = soon.id

    for _ in range(3):
        assert runner.invoke(args=["pledges", "send-reminders"]).exit_code == 0
    with app.app_context():
        assert _count() == 1
        assert mail_outbox.deliver_due().sent == 1
    [message] = smtp.messages
    assert message["To"] == "soon@example.org"
    assert message["Subject"].startswith("€12.00 on ")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Change, pause or skip" in message.get_body(("html",)).get_content()

    # A month later the next renewal gets its own reminder: the key names the renewal.
    with app.app_context():
        pledge = db.session.get(Pledge, soon_id)
        pledge.next_charge_at = pledge.next_charge_at + timedelta(days=30)
        db.session.commit()
        reminders.queue_due(now=now + timedelta(days=29))
        reminders.queue_due(now=now + timedelta(days=29, hours=5))
        db.session.commit()
        assert _count() == 2


def test_a_reminder_queued_before_a_pause_is_not_sent(app, smtp):
    with app.app_context():
        pledge = make_pledge(make_supporter(), next_charge_at=utcnow() + timedelta(days=2))
        reminders.queue_due()
        db.session.commit()
        pledge.status = "paused"
        db.session.commit()
        report = mail_outbox.deliver_due()
    assert (report.sent, report.dropped) == (0, 1)
