"""The supporter's changes reach Stripe: the right call, the right parameters, a fresh
idempotency key each, and a change made in Stripe (the Billing Portal) shows on the page."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution, OutboxEmail, PaymentProblem, Pledge
from pledges.services import ledger, pledge_changes
from pledges.services.rhythm import add_months
from tests.factories import make_case, make_pledge
from tests.stripe.fake_stripe import DAY


def _updates(fake_stripe, subscription_id: str) -> list[dict]:
    return [
        r
        for r in fake_stripe.requests
        if r["method"] == "POST" and r["path"] == f"/v1/subscriptions/{subscription_id}"
    ]


def _pledge(app) -> Pledge:
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        db.session.expunge(pledge)
        return pledge


def test_amount_pause_resume_cancel_restart_reach_stripe(app, client, fake_stripe, subscribed):
    pledge_id = _pledge(app).id
    base = f"/member/pledges/{pledge_id}"
    assert client.post_form(f"{base}/amount", {"amount": "35"}, htmx=True).status_code == 200
    assert client.post_form(f"{base}/amount", {"amount": "35"}, htmx=True).status_code == 200
    assert client.post_form(f"{base}/pause", {"months": "3"}, htmx=True).status_code == 200
    assert client.post_form(f"{base}/resume", htmx=True).status_code == 200
    assert client.post_form(f"{base}/cancel", {"reason": ""}, htmx=True).status_code == 200
    assert client.post_form(f"{base}/restart", htmx=True).status_code == 200

    calls = _updates(fake_stripe, subscribed["id"])
    params = [call["params"] for call in calls]
    assert len(calls) == 5  # the repeated amount did not reach Stripe
    assert params[0]["proration_behavior"] == "none"
    assert params[0]["items"][0]["price_data"]["unit_amount"] == "3500"
    assert params[1]["pause_collection"]["behavior"] == "void"
    assert int(params[1]["pause_collection"]["resumes_at"]) > 0
    assert params[2] == {"pause_collection": ""}
    assert params[3] == {"cancel_at_period_end": "true"}
    assert params[4] == {"cancel_at_period_end": "false"}
    keys = [call["headers"]["Idempotency-Key"] for call in calls]
    assert len(set(keys)) == 5
    assert subscribed["items"]["data"][0]["price"]["unit_amount"] == 35_00
    assert subscribed["pause_collection"] is None and not subscribed["cancel_at_period_end"]
    assert _pledge(app).amount == 35_00


def test_a_change_made_in_the_billing_portal_shows_on_the_member_page(
    app, client, fake_stripe, subscribed, post_webhook
):
    resumes = subscribed["items"]["data"][0]["current_period_end"] + 60 * 24 * 3600
    subscribed["pause_collection"] = {"behavior": "void", "resumes_at": resumes}
    subscribed["items"]["data"][0]["price"]["unit_amount"] = 7_00
    event = fake_stripe.event("customer.subscription.updated", subscribed)
    assert post_webhook(event).status_code == 200

    page = client.get("/member").get_data(as_text=True)
    assert "€7.00 a month" in page
    assert "Paused: nothing is charged until" in page

    subscribed["pause_collection"] = None
    subscribed["cancel_at_period_end"] = True
    assert (
        post_webhook(fake_stripe.event("customer.subscription.updated", subscribed)).status_code
        == 200
    )
    page = client.get("/member").get_data(as_text=True)
    assert "Canceled: nothing more is charged. The pledge ends on" in page
    pledge = _pledge(app)
    assert pledge.status == "active" and pledge.ends_at is not None


def test_stripe_refusing_a_change_changes_nothing_here(app, client, fake_stripe, subscribed):
    pledge_id = _pledge(app).id
    fake_stripe.objects["subscription"].pop(subscribed["id"])  # Stripe no longer knows it
    response = client.post_form(f"/member/pledges/{pledge_id}/amount", {"amount": "50"}, htmx=True)
    assert response.status_code == 502
    assert "could not reach" in response.get_data(as_text=True)
    assert _pledge(app).amount == 20_00


def test_changes_stripe_refused_spend_the_supporter_s_budget_too(
    app, client, fake_stripe, subscribed
):
    """Found by review: only changes made were counted, so a script repeating one that Stripe
    refuses (or while Stripe throttles the fund) called Stripe without end."""
    pledge_id = _pledge(app).id
    fake_stripe.objects["subscription"].pop(subscribed["id"])  # Stripe no longer knows it
    asked = len(fake_stripe.requests)

    statuses = [
        client.post_form(f"/member/pledges/{pledge_id}/amount", {"amount": "50"}).status_code
        for _ in range(35)
    ]

    assert (statuses.count(502), statuses.count(429)) == (30, 5)
    assert len(fake_stripe.requests) - asked <= 30


def test_deleting_the_account_ends_the_subscription_and_the_customer_at_stripe(
    app, client, fake_stripe, subscribed
):
    customer = subscribed["customer"]
    response = client.post_form("/member/delete", {"confirm": "yes"})
    assert response.status_code == 303

    assert subscribed["status"] == "canceled"
    assert customer not in fake_stripe.objects["customer"]
    deletes = [r for r in fake_stripe.requests if r["method"] == "DELETE"]
    # Deleting the customer ends its subscriptions and deletes its cards at once.
    assert [r["path"] for r in deletes] == [f"/v1/customers/{customer}"]
    assert "Idempotency-Key" in deletes[0]["headers"]
    pledge = _pledge(app)
    assert pledge.status == "canceled" and pledge.provider_customer_id is None


def test_a_gift_goes_through_checkout_in_payment_mode(
    app, client, fake_stripe, subscribed, post_webhook
):
    to_checkout = client.post_form("/member/give", {"amount": "40", "earmark": ""})
    assert to_checkout.location.startswith("https://checkout.stripe.com/")
    [session] = [s for s in fake_stripe.checkout_sessions() if s["mode"] == "payment"]
    params = session["params"]
    assert params["customer"] == subscribed["customer"] and "customer_email" not in params
    assert params["line_items"][0]["price_data"]["unit_amount"] == "4000"
    assert "recurring" not in params["line_items"][0]["price_data"]

    paid = fake_stripe.complete_gift_checkout(session["id"], fee=88)
    event = fake_stripe.event("checkout.session.completed", paid)
    assert post_webhook(event).status_code == 200
    assert post_webhook(fake_stripe.event("checkout.session.completed", paid)).status_code == 200

    with app.app_context():
        gifts = db.session.scalars(select(Contribution).where(Contribution.pledge_id.is_(None)))
        [gift] = gifts.all()
        assert (gift.gross, gift.fee, gift.provider_payment_id) == (
            40_00,
            88,
            paid["payment_intent"],
        )
        assert gift.receipt_url.startswith("https://pay.stripe.com/receipts/")
        assert ledger.check() == []


def test_a_boosted_form_leaves_for_stripe_by_htmx_redirect(app, client, fake_stripe, subscribed):
    response = client.post_form(
        "/member/give",
        {"amount": "5", "earmark": ""},
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )
    # A 303 would be followed in the background, where the page may not reach Stripe.
    assert response.status_code == 200
    assert response.headers["HX-Redirect"].startswith("https://checkout.stripe.com/")


def test_a_gift_paid_later_by_bank_debit_is_recorded_then(
    app, client, fake_stripe, subscribed, post_webhook
):
    client.post_form("/member/give", {"amount": "30", "earmark": ""})
    [session] = [s for s in fake_stripe.checkout_sessions() if s["mode"] == "payment"]
    paid = fake_stripe.complete_gift_checkout(session["id"])
    paid["payment_status"] = "unpaid"  # a debit takes days
    assert post_webhook(fake_stripe.event("checkout.session.completed", paid)).status_code == 200
    with app.app_context():
        assert (
            db.session.scalar(select(Contribution).where(Contribution.pledge_id.is_(None))) is None
        )

    paid["payment_status"] = "paid"
    fake_stripe.refund_charge(fake_stripe.charge_of_intent(paid["payment_intent"]), 10_00)
    event = fake_stripe.event("checkout.session.async_payment_succeeded", paid)
    assert post_webhook(event).status_code == 200
    with app.app_context():
        gift = db.session.scalar(select(Contribution).where(Contribution.pledge_id.is_(None)))
        assert (gift.gross, gift.refunded) == (30_00, 10_00)  # a refund that came first counts
        assert ledger.check() == []


def test_a_gift_paid_after_its_giver_deleted_the_account_is_in_the_books_anonymous(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Found by review: the debit went through days after the giver deleted their account,
    the money was in the fund's account, and the books never counted it."""
    client.post_form("/member/give", {"amount": "30", "earmark": ""})
    [session] = [s for s in fake_stripe.checkout_sessions() if s["mode"] == "payment"]
    paid = fake_stripe.complete_gift_checkout(session["id"])
    paid["payment_status"] = "unpaid"
    post_webhook(fake_stripe.event("checkout.session.completed", paid))
    assert client.post_form("/member/delete", {"confirm": "yes"}).status_code == 303

    paid["payment_status"] = "paid"
    post_webhook(fake_stripe.event("checkout.session.async_payment_succeeded", paid))

    with app.app_context():
        gift = db.session.scalar(select(Contribution).where(Contribution.pledge_id.is_(None)))
        assert (gift.gross, gift.supporter.erased_at is not None) == (30_00, True)
        assert gift.receipt_url is None  # Stripe's receipt names the giver
        assert ledger.check() == []
        thanks = select(OutboxEmail).where(OutboxEmail.kind == "gift-thanks")
        assert db.session.scalars(thanks).all() == []


def test_canceling_a_past_due_pledge_ends_it_at_stripe_now(
    app, client, fake_stripe, subscribed, post_webhook
):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    assert post_webhook(fake_stripe.event("invoice.payment_failed", invoice)).status_code == 200
    pledge_id = _pledge(app).id
    assert client.post_form(f"/member/pledges/{pledge_id}/cancel", {}, htmx=True).status_code == 200
    assert subscribed["status"] == "canceled"
    assert _pledge(app).status == "canceled"


def test_a_voided_invoice_stops_asking(app, client, fake_stripe, subscribed, post_webhook):
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    post_webhook(fake_stripe.event("invoice.payment_failed", invoice))
    assert "did not go through" in client.get("/member").get_data(as_text=True)
    invoice["status"] = "void"
    assert post_webhook(fake_stripe.event("invoice.voided", invoice)).status_code == 200
    assert "did not go through" not in client.get("/member").get_data(as_text=True)


def test_deleting_the_account_deletes_every_customer_stripe_made_for_them(
    app, client, fake_stripe, subscribed
):
    with app.app_context():
        ended = make_pledge(db.session.scalar(select(Pledge)).supporter, status="canceled",
                            provider="stripe")  # fmt: skip
        ended.provider_customer_id = "cus_second_checkout"
        db.session.commit()
    fake_stripe.objects["customer"]["cus_second_checkout"] = {"id": "cus_second_checkout"}
    assert client.post_form("/member/delete", {"confirm": "yes"}).status_code == 303
    assert fake_stripe.objects["customer"] == {}


def test_a_pause_ends_on_the_day_stripe_bills_not_the_day_the_pledge_was_recorded(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Found by review: a month's last day stands for the 29th, 30th or 31st, and the day was
    guessed from when the pledge was recorded as started, which can be a day after Stripe's
    anchor (past midnight, or after an outage). Anchor Jan 30 23:59:50 (renewals Feb 28, Mar
    30), recorded Jan 31: a month's pause from Feb 28 ran to Mar 31 and skipped the Mar 30
    renewal too. The day now comes from the subscription's anchor."""
    anchor = datetime(2031, 1, 30, 23, 59, 50, tzinfo=UTC)
    period_end = datetime(2031, 2, 28, 23, 59, 50, tzinfo=UTC)
    subscribed["billing_cycle_anchor"] = int(anchor.timestamp())
    item = subscribed["items"]["data"][0]
    item["current_period_start"] = int(anchor.timestamp())
    item["current_period_end"] = int(period_end.timestamp())
    with app.app_context():
        pledge = db.session.scalar(select(Pledge))
        pledge.activated_at = anchor + timedelta(seconds=15)
        db.session.commit()
        pledge_id = pledge.id
    post_webhook(fake_stripe.event("customer.subscription.updated", subscribed))
    assert (_pledge(app).charge_day, _pledge(app).next_charge_at) == (30, period_end)

    response = client.post_form(f"/member/pledges/{pledge_id}/pause", {"months": "1"}, htmx=True)
    assert response.status_code == 200

    [call] = _updates(fake_stripe, subscribed["id"])
    renewal = datetime(2031, 3, 30, 23, 59, 50, tzinfo=UTC)
    # Stripe resumes a little before the renewal, which it then charges.
    assert int(call["params"]["pause_collection"]["resumes_at"]) < renewal.timestamp()
    assert _pledge(app).paused_until == renewal


def test_resuming_in_the_hour_before_the_pause_ends_names_that_renewal(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Found by review (of a change since reverted): Stripe's pause resumes an hour before the
    renewal (`resumes_at`), which sync keeps as the pause's end. Resumed in that hour, the
    renewal was taken for one gone by, and the confirmation named next month while Stripe
    charged within the hour."""
    renewal = (datetime.now(UTC) + timedelta(minutes=30)).replace(microsecond=0)
    subscribed["billing_cycle_anchor"] = int(add_months(renewal, -3).timestamp())
    resumes_at = int(renewal.timestamp()) - 3600
    subscribed["pause_collection"] = {"behavior": "void", "resumes_at": resumes_at}
    subscribed["items"]["data"][0]["current_period_end"] = int(renewal.timestamp())
    post_webhook(fake_stripe.event("customer.subscription.updated", subscribed))
    pledge_id = _pledge(app).id
    assert _pledge(app).status == "paused"

    client.post_form(f"/member/pledges/{pledge_id}/resume", htmx=True)

    # Within the hour that sync keeps of it (resumes_at), not a month on.
    assert abs(_pledge(app).next_charge_at - renewal) <= timedelta(hours=1)


def test_a_pause_ends_with_the_renewal_stripe_collects_not_an_hour_before(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Stripe is told to collect again an hour before the renewal that ends a pause, and the
    pause's end was kept as that hour: for a pledge charged at 00:30, the page named the day
    before. Made in Stripe's dashboard, a pause may end at any time: it ends with the first
    renewal from then on."""
    anchor = datetime(2031, 1, 15, 0, 30, tzinfo=UTC)
    subscribed["billing_cycle_anchor"] = int(anchor.timestamp())
    subscribed["items"]["data"][0]["current_period_end"] = int(add_months(anchor, 1).timestamp())
    renewal = add_months(anchor, 2)
    for resumes_at in (renewal - timedelta(hours=1), renewal - timedelta(days=9)):
        subscribed["pause_collection"] = {
            "behavior": "void",
            "resumes_at": int(resumes_at.timestamp()),
        }
        post_webhook(fake_stripe.event("customer.subscription.updated", subscribed))
        pledge = _pledge(app)
        assert (pledge.status, pledge.paused_until, pledge.next_charge_at) == (
            "paused",
            renewal,
            renewal,
        )


def test_a_paused_pledge_canceled_charges_nothing_more_after_stripe_s_event(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Found by review: canceled while paused, the pledge has no next charge; the event that
    followed gave it back the pause's end as one."""
    pledge_id = _pledge(app).id
    client.post_form(f"/member/pledges/{pledge_id}/pause", {"months": "1"}, htmx=True)
    client.post_form(f"/member/pledges/{pledge_id}/cancel", {"reason": ""}, htmx=True)
    assert (_pledge(app).next_charge_at, _pledge(app).ends_at is not None) == (None, True)

    post_webhook(fake_stripe.event("customer.subscription.updated", subscribed))

    pledge = _pledge(app)
    assert (pledge.next_charge_at, pledge.ends_at is not None) == (None, True)


def test_a_pause_just_after_a_renewal_skips_the_next_one_not_the_one_already_charged(
    app, client, fake_stripe, subscribed, post_webhook
):
    """Stripe renewed the pledge minutes ago and its events have not arrived: the pledge here
    still names that renewal as its next charge. A month's pause counted from it skipped
    nothing (Stripe collects an invoice made before the pause anyway); it counts from the
    renewal Stripe makes next."""
    item = subscribed["items"]["data"][0]
    renewed = datetime.fromtimestamp(item["current_period_end"], UTC) - timedelta(days=30)
    subscribed["billing_cycle_anchor"] = int(add_months(renewed, -2).timestamp())
    item["current_period_end"] = int(renewed.timestamp())
    post_webhook(fake_stripe.event("customer.subscription.updated", subscribed))
    assert _pledge(app).next_charge_at == renewed
    item["current_period_start"] = int(renewed.timestamp())  # renewed at Stripe, unheard of
    item["current_period_end"] = int(add_months(renewed, 1).timestamp())

    pledge_id = _pledge(app).id
    client.post_form(f"/member/pledges/{pledge_id}/pause", {"months": "1"}, htmx=True)

    [call] = _updates(fake_stripe, subscribed["id"])
    skipped, ends = add_months(renewed, 1), add_months(renewed, 2)
    assert skipped.timestamp() < int(call["params"]["pause_collection"]["resumes_at"])
    assert _pledge(app).paused_until == ends


def test_a_renewal_handled_after_the_earmark_moved_stays_where_it_was_paid_for(
    app, client, fake_stripe, post_webhook, receive_webhook, handle_stripe_events
):
    """Found by review: the worker behind, the supporter moved the earmark, and the renewal
    paid for the case went to the general fund."""
    with app.app_context():
        case_id = make_case(slug="medical-care").id
    client.post_form(
        "/pledge", {"amount": "20", "email": "payer@example.org", "earmark": "medical-care"}
    )
    [session] = fake_stripe.checkout_sessions()
    paid = fake_stripe.complete_checkout(session["id"])
    post_webhook(fake_stripe.event("invoice.paid", paid["invoice"]))
    renewal = fake_stripe.pay_invoice(paid["subscription"]["id"], paid_at=int(time.time()) - 3600)
    receive_webhook(fake_stripe.event("invoice.paid", renewal))
    with app.app_context():
        pledge_changes.change_earmark(db.session.scalar(select(Pledge)), None)
        db.session.commit()

    handle_stripe_events()

    with app.app_context():
        earmarks = db.session.execute(
            select(Contribution.provider_payment_id, Contribution.earmarked_case_id)
        ).all()
        assert sorted(earmarks) == sorted(
            [(paid["invoice"]["id"], case_id), (renewal["id"], case_id)]
        )


def test_a_failed_renewal_handled_after_the_account_was_deleted_keeps_no_link_and_emails_nobody(
    app, client, fake_stripe, subscribed, receive_webhook, handle_stripe_events
):
    """Found by review: an event queued before the deletion stored Stripe's invoice page again,
    which names the donor."""
    invoice = fake_stripe.fail_invoice(subscribed["id"])
    receive_webhook(fake_stripe.event("invoice.payment_action_required", invoice))
    assert client.post_form("/member/delete", {"confirm": "yes"}).status_code == 303

    handle_stripe_events()

    with app.app_context():
        assert [p.hosted_url for p in db.session.scalars(select(PaymentProblem))] in ([], [None])
        queued = select(OutboxEmail).where(OutboxEmail.status == "queued")
        assert db.session.scalars(queued).all() == []


@pytest.mark.parametrize("seen_paid_by", ["its event", "sync-stripe"])
def test_a_gift_by_bank_debit_funds_nothing_paid_out_before_its_money_arrived(
    app, client, fake_stripe, subscribed, post_webhook, runner, seen_paid_by
):
    """Found by review: dated when its debit was started, five days before the money came, it
    funded a payout made while it was on its way; then, by review again, still so when
    `sync-stripe` found it paid."""
    client.post_form("/member/give", {"amount": "30", "earmark": ""})
    [session] = [s for s in fake_stripe.checkout_sessions() if s["mode"] == "payment"]
    paid = fake_stripe.complete_gift_checkout(session["id"])
    started = int(time.time()) - 5 * DAY
    charge = fake_stripe.charge_of_intent(paid["payment_intent"])
    charge["created"], charge["payment_method_details"] = started, {"type": "sepa_debit"}
    paid["created"], paid["payment_status"] = started, "unpaid"
    post_webhook(fake_stripe.event("checkout.session.completed", paid))
    with app.app_context():
        three_days_ago = (datetime.now(UTC) - timedelta(days=3)).date()
        ledger.record_disbursement(make_case(), 40_00, three_days_ago)
        db.session.commit()

    paid["payment_status"] = "paid"
    if seen_paid_by == "its event":
        post_webhook(fake_stripe.event("checkout.session.async_payment_succeeded", paid))
    else:
        assert runner.invoke(args=["pledges", "sync-stripe"]).exit_code == 0

    with app.app_context():
        gift = db.session.scalar(select(Contribution).where(Contribution.pledge_id.is_(None)))
        assert gift.paid_at > datetime.now(UTC) - timedelta(minutes=1)
        assert ledger.given(gift.id) == 0
        assert ledger.check() == []


def test_a_gift_by_card_is_dated_when_charged(app, client, fake_stripe, subscribed, post_webhook):
    client.post_form("/member/give", {"amount": "30", "earmark": ""})
    [session] = [s for s in fake_stripe.checkout_sessions() if s["mode"] == "payment"]
    paid = fake_stripe.complete_gift_checkout(session["id"])
    charged = int(time.time()) - 2 * DAY  # its event came late
    charge = fake_stripe.charge_of_intent(paid["payment_intent"])
    charge["created"], charge["payment_method_details"] = charged, {"type": "card"}

    post_webhook(fake_stripe.event("checkout.session.completed", paid))

    with app.app_context():
        gift = db.session.scalar(select(Contribution).where(Contribution.pledge_id.is_(None)))
        assert gift.paid_at.timestamp() == charged
