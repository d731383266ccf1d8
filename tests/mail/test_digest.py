"""The monthly digest and the card-expiry warning, queued by send-reminders at any hour as
often as cron likes: each once, true to the cent."""

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import CaseUpdate, OutboxEmail
from pledges.services import ledger, mail_outbox, reminders
from tests.factories import make_case, make_contribution, make_pledge, make_supporter

OCTOBER = datetime(2026, 10, 10, 12, tzinfo=UTC)


def _count(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(OutboxEmail).where(OutboxEmail.kind == kind)
    )


def test_the_digest_says_what_last_months_money_did_once(app, smtp):
    with app.app_context():
        giver = make_supporter("giver@example.org")
        make_supporter("quiet@example.org", wants_digest=False)
        case = make_case(title="Medicine for R.")
        make_contribution(make_pledge(giver), gross=20_00, fee=50, paid_at=OCTOBER)
        ledger.record_disbursement(case, 12_34, date(2026, 10, 20))
        db.session.add(
            CaseUpdate(
                case=case,
                title="Delivered",
                body="…",
                published_at=datetime(2026, 10, 25, tzinfo=UTC),
            )  # fmt: skip
        )
        db.session.commit()

        for hour in (0, 1, 13):  # the first days of November, hourly
            reminders.queue_due(now=datetime(2026, 11, 1, hour, tzinfo=UTC))
        reminders.queue_due(now=datetime(2026, 11, 3, 9, tzinfo=UTC))
        reminders.queue_due(now=datetime(2026, 12, 1, 9, tzinfo=UTC))  # nothing given in Nov
        db.session.commit()
        assert _count("digest") == 1
        assert mail_outbox.deliver_due().sent == 1
    [message] = smtp.messages
    assert message["Subject"] == "What your money did in October 2026"
    text = message.get_body(("plain",)).get_content()
    assert "you gave €20.00" in text
    assert "- Medicine for R.: €12.34" in text
    assert "Still in the fund, for the next payout: €7.16" in text  # 20.00 - 0.50 fee - 12.34
    # Found by review: the parts must add up to what they gave, the fee among them.
    assert "- Fees taken by the payment processor: €0.50" in text
    html = message.get_body(("html",)).get_content()
    assert "Fees taken by the payment processor: €0.50" in html
    assert "- Medicine for R.: Delivered" in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_digest_thanks_only_for_money_that_was_not_given_back(app, smtp):
    """One supporter's October payment was refunded in full, another's in part: the first has
    nothing to be told, the second is thanked for what stayed (found by review)."""
    with app.app_context():
        refunded = make_supporter("refunded@example.org")
        partly = make_supporter("partly@example.org")
        ledger.take_back(
            make_contribution(make_pledge(refunded), gross=20_00, fee=50, paid_at=OCTOBER),
            refunded=20_00,
        )
        ledger.take_back(
            make_contribution(make_pledge(partly), gross=20_00, fee=50, paid_at=OCTOBER),
            refunded=5_00,
        )
        db.session.commit()

        reminders.queue_due(now=datetime(2026, 11, 1, 9, tzinfo=UTC))
        db.session.commit()
        assert _count("digest") == 1
        assert mail_outbox.deliver_due().sent == 1
    [message] = smtp.messages
    assert message["To"] == "partly@example.org"
    text = message.get_body(("plain",)).get_content()
    assert "you gave €15.00" in text
    assert "Still in the fund, for the next payout: €14.50" in text  # 20.00 - 0.50 - 5.00
    assert "- Fees taken by the payment processor: €0.50" in text


def test_the_card_expiry_warning_comes_in_the_month_before(app, smtp):
    with app.app_context():
        supporter = make_supporter("card@example.org", card_brand="visa", card_last4="4242",
                                   card_exp_month=12, card_exp_year=2026)  # fmt: skip
        make_pledge(supporter)
        reminders.queue_due(now=datetime(2026, 10, 15, tzinfo=UTC))  # too early
        for day in (1, 2, 30):
            reminders.queue_due(now=datetime(2026, 11, day, tzinfo=UTC))
        db.session.commit()
        assert _count("card-expiring") == 1
        assert mail_outbox.deliver_due().sent == 1
    assert "ending 4242" in smtp.messages[0].get_body(("plain",)).get_content()
