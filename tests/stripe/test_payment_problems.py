"""A renewal that fails, or waits for the bank (3-D Secure): the member page shows it with the
way to fix it until the invoice is paid; a new card comes through Stripe's Billing Portal."""

from datetime import timedelta

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import OutboxEmail, PaymentProblem, Pledge, Supporter
from pledges.services import mail_outbox, reminders


def test_a_failed_renewal_shows_until_paid(app, client, fake_stripe, subscribed, post_webhook):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    assert post_webhook(fake_stripe.event("invoice.payment_failed", invoice)).status_code == 200

    page = client.get("/member").get_data(as_text=True)
    assert "did not go through" in page and "Update my card" in page
    assert "Payment failed" in page  # the pledge's status

    # Paid after all (Stripe's retry with a new card): the banner goes, the money is recorded.
    paid = fake_stripe.pay_invoice(subscribed["id"], invoice_id=invoice["id"])
    assert post_webhook(fake_stripe.event("invoice.paid", paid)).status_code == 200
    page = client.get("/member").get_data(as_text=True)
    assert "did not go through" not in page
    with app.app_context():
        assert db.session.scalar(select(PaymentProblem)).resolved_at is not None
        assert len(db.session.scalar(select(Pledge)).contributions) == 2


def test_the_bank_asking_for_confirmation_sends_the_link_once(
    app,
    client,
    fake_stripe,
    subscribed,
    post_webhook,
    smtp,
):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    event = fake_stripe.event("invoice.payment_action_required", invoice)
    assert post_webhook(event).status_code == 200
    assert (
        post_webhook(fake_stripe.event("invoice.payment_action_required", invoice)).status_code
        == 200
    )

    page = client.get("/member").get_data(as_text=True)
    assert "Your bank asks you to confirm the payment" in page
    assert invoice["hosted_invoice_url"] in page
    with app.app_context():
        assert mail_outbox.deliver_due().sent == 2  # the welcome, and this
        kinds = db.session.scalars(select(OutboxEmail.kind)).all()
        assert kinds.count("action-required") == 1
    [message] = [m for m in smtp.messages if "confirm your payment" in m["Subject"]]
    assert invoice["hosted_invoice_url"] in message.get_body(("plain",)).get_content()


def test_the_card_is_updated_in_stripes_billing_portal(app, client, fake_stripe, subscribed):
    with app.app_context():
        pledge_id = db.session.scalar(select(Pledge.id))
    response = client.post_form(f"/member/pledges/{pledge_id}/card")
    assert response.status_code == 303
    assert response.location.startswith("https://billing.stripe.com/p/session/")
    [call] = [r for r in fake_stripe.requests if r["path"] == "/v1/billing_portal/sessions"]
    assert call["params"]["customer"] == subscribed["customer"]
    assert call["params"]["flow_data"]["type"] == "payment_method_update"
    assert call["params"]["return_url"] == "http://pledges.test/member"
    assert "Idempotency-Key" in call["headers"]


def test_a_card_renewed_by_the_network_is_remembered(app, fake_stripe, subscribed, post_webhook):
    method = {
        "id": "pm_new",
        "object": "payment_method",
        "customer": subscribed["customer"],
        "card": {"brand": "visa", "last4": "1881", "exp_month": 4, "exp_year": 2031},
    }
    assert (
        post_webhook(fake_stripe.event("payment_method.automatically_updated", method)).status_code
        == 200
    )
    with app.app_context():
        supporter = db.session.scalar(select(Supporter))
        assert (supporter.card_brand, supporter.card_last4) == ("visa", "1881")
        assert (supporter.card_exp_month, supporter.card_exp_year) == (4, 2031)


def test_stripes_upcoming_notice_and_our_schedule_send_one_reminder(
    app, client, fake_stripe, subscribed, post_webhook
):
    notice = {
        "id": "upcoming_in",
        "object": "invoice",
        "parent": {
            "type": "subscription_details",
            "subscription_details": {
                "subscription": subscribed["id"],
                "metadata": subscribed["metadata"],
            },
        },
    }
    assert post_webhook(fake_stripe.event("invoice.upcoming", notice)).status_code == 200
    with app.app_context():
        assert db.session.scalars(select(OutboxEmail.kind)).all().count("upcoming-charge") == 1
        pledge = db.session.scalar(select(Pledge))
        # Our own schedule, a few days before the same renewal.
        reminders.queue_due(now=pledge.next_charge_at - timedelta(days=1))
        db.session.commit()
        kinds = db.session.scalars(select(OutboxEmail.kind)).all()
        assert kinds.count("upcoming-charge") == 1


def _keys(app, prefix: str) -> list[str]:
    with app.app_context():
        return sorted(
            k for k in db.session.scalars(select(OutboxEmail.dedupe_key)) if k.startswith(prefix)
        )


def test_dunning_asks_again_at_three_and_seven_days_and_stops_when_paid(
    app, client, fake_stripe, subscribed, post_webhook, smtp
):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    post_webhook(fake_stripe.event("invoice.payment_failed", invoice))
    post_webhook(fake_stripe.event("invoice.payment_failed", invoice))  # Stripe's retry fails too
    with app.app_context():
        failed_at = db.session.scalar(select(PaymentProblem)).occurred_at
        for hours in (1, 25, 73, 74, 100):  # hourly cron, as it happens to run
            reminders.queue_due(now=failed_at + timedelta(hours=hours))
        db.session.commit()
    assert _keys(app, "dunning:") == [f"dunning:{invoice['id']}:0", f"dunning:{invoice['id']}:3"]

    with app.app_context():
        mail_outbox.deliver_due()
    bodies = [m.get_body(("plain",)).get_content() for m in smtp.messages
              if "did not go through" in m["Subject"]]  # fmt: skip
    assert len(bodies) == 2 and "/login/" in bodies[0]

    paid = fake_stripe.pay_invoice(subscribed["id"], invoice_id=invoice["id"])
    post_webhook(fake_stripe.event("invoice.paid", paid))
    with app.app_context():
        reminders.queue_due(now=failed_at + timedelta(days=8))
        db.session.commit()
    assert len(_keys(app, "dunning:")) == 2  # paid: no day-7 reminder


def test_after_an_outage_only_the_latest_reminder_is_sent(
    app, client, fake_stripe, subscribed, post_webhook
):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    post_webhook(fake_stripe.event("invoice.payment_failed", invoice))
    with app.app_context():
        failed_at = db.session.scalar(select(PaymentProblem)).occurred_at
        reminders.queue_due(now=failed_at + timedelta(days=9))
        reminders.queue_due(now=failed_at + timedelta(days=9, hours=1))
        db.session.commit()
    assert _keys(app, "dunning:") == [f"dunning:{invoice['id']}:0", f"dunning:{invoice['id']}:7"]


def test_a_pledge_ended_after_failed_payments_says_so_once(
    app, client, fake_stripe, subscribed, post_webhook, smtp
):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    post_webhook(fake_stripe.event("invoice.payment_failed", invoice))
    ended = fake_stripe.cancel_subscription(subscribed["id"])
    for _ in range(2):
        post_webhook(fake_stripe.event("customer.subscription.deleted", ended))
    with app.app_context():
        mail_outbox.deliver_due()
    ended_mail = [m for m in smtp.messages if "has ended" in m["Subject"]]
    assert len(ended_mail) == 1
    assert "Restart my pledge" in ended_mail[0].get_body(("plain",)).get_content()
    assert "did not go through" not in client.get("/member").get_data(as_text=True)
