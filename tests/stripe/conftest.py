import json

import pytest

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
def post_webhook(client, fake_stripe):
    """Deliver an event as Stripe would: the raw JSON body and its signature header."""

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
