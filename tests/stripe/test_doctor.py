"""`doctor`'s checks that ask Stripe (the fake Stripe API here): the key's mode, and whether the
webhook endpoint exists and is sent every event the app handles."""

import time
from datetime import timedelta

import pytest

from pledges import doctor
from pledges.extensions import db
from pledges.models import StripeEvent
from pledges.models.types import utcnow
from pledges.payments.stripe_events import HANDLERS
from tests.doctor_output import doctor_lines

ENDPOINT = "http://pledges.test/stripe/webhook"  # the BASE_URL of the tests, and the route


@pytest.mark.parametrize(
    ("key", "verdict"),
    [("sk_live_abc", "✓ live-mode key"), ("sk_test_abc", "✗ a test-mode key in production")],
)
def test_doctor_compares_the_stripe_key_mode_with_the_environment(
    config, make_app, fake_stripe, key, verdict
):
    fake_stripe.add_webhook_endpoint("https://fund.example.org/stripe/webhook", ["*"])
    app = make_app(
        {
            **config,
            "PLEDGES_ENV": "production",
            "SECRET_KEY": "a-long-random-secret-key-for-tests",
            "PLEDGES_DATA_KEY": "a-long-random-data-key-for-tests",
            "BASE_URL": "https://fund.example.org",
            "STRIPE_SECRET_KEY": key,
            "STRIPE_WEBHOOK_SECRET": "whsec_x",
            "ALLOW_SQLITE_IN_PRODUCTION": True,
            "WEB_CONCURRENCY": 1,
        }
    )

    exit_code, lines = doctor_lines(app.test_cli_runner())

    assert lines["stripe-mode"].startswith(verdict)
    assert lines["stripe-webhook"].startswith("✓")
    assert key not in "".join(lines.values())
    assert exit_code == (0 if verdict.startswith("✓") else 1)


def test_doctor_says_when_stripe_events_have_waited_too_long(app, fake_stripe):
    fake_stripe.add_webhook_endpoint(ENDPOINT, sorted(HANDLERS))
    assert doctor_lines(app.test_cli_runner())[1]["stripe-events-handled"].startswith("✓")
    with app.app_context():
        old = utcnow() - timedelta(minutes=11)
        db.session.add(StripeEvent(id="evt_late", type="invoice.paid", created_at=old,
                                   received_at=old, payload="{}", next_attempt_at=old))  # fmt: skip
        db.session.commit()

    exit_code, lines = doctor_lines(app.test_cli_runner())

    assert lines["stripe-events-handled"].startswith("✗ 1 Stripe events have waited")
    assert exit_code == 1


def test_an_endpoint_sent_every_event_passes(app, fake_stripe):
    fake_stripe.add_webhook_endpoint("https://elsewhere.example.org/hook", ["invoice.paid"])
    fake_stripe.add_webhook_endpoint(ENDPOINT, sorted(HANDLERS))

    exit_code, lines = doctor_lines(app.test_cli_runner())

    assert lines["stripe-webhook"] == f"✓ {ENDPOINT} is sent every event the app handles"
    assert exit_code == 0


def test_no_endpoint_for_this_fund_is_said(app, fake_stripe):
    fake_stripe.add_webhook_endpoint("https://elsewhere.example.org/hook", ["*"])

    exit_code, lines = doctor_lines(app.test_cli_runner())

    assert lines["stripe-webhook"].startswith(f"✗ Stripe has no webhook endpoint at {ENDPOINT}")
    assert exit_code == 1


def test_events_the_endpoint_is_not_sent_are_named(app, fake_stripe):
    """An endpoint set up before a chargeback after an inquiry was handled lacks the events
    that say so."""
    older = sorted(set(HANDLERS) - {"charge.dispute.funds_withdrawn", "charge.dispute.closed"})
    fake_stripe.add_webhook_endpoint(ENDPOINT, older)

    _, lines = doctor_lines(app.test_cli_runner())

    assert lines["stripe-webhook"].startswith(
        f"✗ Stripe does not send {ENDPOINT} these events: charge.dispute.closed, "
        "charge.dispute.funds_withdrawn: add them"
    )


def test_a_disabled_endpoint_is_said(app, fake_stripe):
    fake_stripe.add_webhook_endpoint(ENDPOINT, ["*"], status="disabled")

    assert doctor_lines(app.test_cli_runner())[1]["stripe-webhook"] == (
        f"✗ the webhook endpoint at {ENDPOINT} is disabled in Stripe"
    )


def test_a_key_stripe_refuses_is_said_without_the_key(app, fake_stripe):
    fake_stripe.refusing = (401, {"error": {"type": "invalid_request_error",
                                            "message": "Invalid API Key provided: sk_test_****fake"}})  # fmt: skip

    line = doctor_lines(app.test_cli_runner())[1]["stripe-webhook"]

    assert line.startswith("✗ AuthenticationError") and "Invalid API Key" in line
    assert "sk_test_pledges_fake" not in line


def test_two_endpoints_at_the_fund_address_are_said(app, fake_stripe):
    """Adding an endpoint rather than editing the old one: each signs with its own secret, so
    the events of one are refused, however complete the other."""
    fake_stripe.add_webhook_endpoint(ENDPOINT, ["invoice.paid"])
    fake_stripe.add_webhook_endpoint(ENDPOINT, ["*"])

    line = doctor_lines(app.test_cli_runner())[1]["stripe-webhook"]

    assert line.startswith(f"✗ 2 webhook endpoints at {ENDPOINT}: only one can match")


def test_the_address_is_compared_as_stripe_reaches_it(app, fake_stripe):
    fake_stripe.add_webhook_endpoint("HTTP://Pledges.TEST:80/stripe/webhook/?from=stripe", ["*"])

    assert doctor_lines(app.test_cli_runner())[1]["stripe-webhook"].startswith("✓")


def test_a_restricted_key_without_the_permission_is_told_which(app, fake_stripe):
    fake_stripe.refusing = (403, {"error": {"type": "invalid_request_error",
                                            "message": "The provided key does not have access"}})  # fmt: skip

    line = doctor_lines(app.test_cli_runner())[1]["stripe-webhook"]

    assert line == (
        "✗ this restricted key may not read webhook endpoints: give it "
        "“Webhook Endpoints: Read” in Stripe's dashboard"
    )


def test_a_stripe_that_does_not_answer_fails_the_check_in_seconds(app, fake_stripe, monkeypatch):
    monkeypatch.setattr(doctor, "CONNECT_TIMEOUT", 0.5)
    fake_stripe.latency = 3
    started = time.monotonic()

    line = doctor_lines(app.test_cli_runner())[1]["stripe-webhook"]

    assert line == "✗ Stripe cannot be reached: Read timed out. (read timeout=0.5)"
    assert time.monotonic() - started < 2.5
