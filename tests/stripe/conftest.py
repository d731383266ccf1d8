import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Pledge
from pledges.payments import gateway, stripe_inbox
from pledges.services import mail_outbox
from tests.factories import make_organizer
from tests.organizer.signing_in import sign_in_supporter
from tests.stripe.fake_stripe import FakeStripe

WEBHOOK_SECRET = "whsec_test_secret_for_pledges"


@pytest.fixture(scope="session")
def fake_stripe_server():
    fake = FakeStripe(WEBHOOK_SECRET)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_stripe(fake_stripe_server):
    fake_stripe_server.reset()
    return fake_stripe_server


@pytest.fixture
def config(config, fake_stripe):
    return {
        **config,
        "PAYMENTS": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_pledges_fake",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake_stripe.url,
    }


@pytest.fixture
def handle_stripe_events(app):
    """What the worker (`handle-stripe-events`) does with the events received so far."""

    def handle() -> stripe_inbox.HandlingReport:
        with app.app_context():
            report = stripe_inbox.handle_due(gateway())
            db.session.remove()
        return report

    return handle


@pytest.fixture
def receive_webhook(client, fake_stripe):
    """Deliver an event as Stripe would: the raw JSON body and its signature header. The
    webhook only writes it down; no worker has applied it yet."""

    def post(
        event: dict,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        signature: str | None = None,
    ):
        payload = json.dumps(event)
        header = signature or fake_stripe.sign(payload, timestamp=timestamp, secret=secret)
        return client.post(
            "/stripe/webhook",
            data=payload,
            headers={"Stripe-Signature": header, "Content-Type": "application/json"},
        )

    return post


@pytest.fixture
def post_webhook(receive_webhook, handle_stripe_events):
    """Deliver an event as Stripe would, then let the worker handle what it received, as it
    would a moment later."""

    def post(event: dict, **signing: object):
        response = receive_webhook(event, **signing)
        handle_stripe_events()
        return response

    return post


@pytest.fixture
def subscribed(app, client, fake_stripe, post_webhook):
    """An active Stripe pledge of 20.00, its supporter signed in; returns the subscription."""
    client.post_form("/pledge", {"amount": "20", "email": "payer@example.org", "earmark": ""})
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"])
    assert post_webhook(fake_stripe.event("invoice.paid", paid["invoice"])).status_code == 200
    with app.app_context():
        supporter_id = db.session.scalar(select(Pledge)).supporter_id
    sign_in_supporter(app, client, supporter_id)
    return fake_stripe.objects["subscription"][paid["subscription"]["id"]]


@pytest.fixture
def treasurer(app) -> str:
    """An enrolled organizer, at the fund since long before anything in the test; their
    address."""
    with app.app_context():
        make_organizer("admin", email="treasurer@example.org").created_at = datetime(
            2020, 1, 1, tzinfo=UTC
        )
        db.session.commit()
    return "treasurer@example.org"


@pytest.fixture
def told_of_failed_refunds(app, smtp):
    """Deliver what is queued; the emails telling of a failed refund sent so far."""

    def told() -> list:
        with app.app_context():
            mail_outbox.deliver_due()
        return [m for m in smtp.messages if "refund failed" in m["Subject"]]

    return told
