"""`flask pledges sync-stripe` repairs what missed webhooks left behind."""

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution, Pledge, PledgeStatus


def test_sync_finds_a_paid_checkout_whose_webhooks_never_came(app, client, fake_stripe, runner):
    client.post_form("/pledge", {"amount": "20", "email": "quiet@example.org", "earmark": ""})
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"], fee=55)
    fake_stripe.pay_invoice(paid["subscription"]["id"], fee=55)  # and a renewal, also unheard

    first = runner.invoke(args=["pledges", "sync-stripe"])
    again = runner.invoke(args=["pledges", "sync-stripe"])

    assert first.exit_code == 0, first.output
    assert "2 payments recorded" in first.output
    assert "0 payments recorded" in again.output
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        assert pledge.status == PledgeStatus.ACTIVE
        assert pledge.provider_subscription_id == paid["subscription"]["id"]
        assert [c.net for c in pledge.contributions] == [1945, 1945]


def test_sync_leaves_an_abandoned_checkout_pending(app, client, fake_stripe, runner):
    client.post_form("/pledge", {"amount": "20", "email": "gone@example.org", "earmark": ""})

    result = runner.invoke(args=["pledges", "sync-stripe"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(Pledge)).status == PledgeStatus.PENDING
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == 0


def test_sync_catches_a_cancellation_it_never_heard_of(
    app, client, fake_stripe, runner, post_webhook
):
    client.post_form("/pledge", {"amount": "20", "email": "leaving@example.org", "earmark": ""})
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"])
    post_webhook(fake_stripe.event("invoice.paid", paid["invoice"]))
    fake_stripe.cancel_subscription(paid["subscription"]["id"])

    runner.invoke(args=["pledges", "sync-stripe"])

    with app.app_context():
        assert db.session.scalar(select(Pledge)).status == PledgeStatus.CANCELED
