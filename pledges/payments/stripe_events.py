"""What each Stripe event does. Arrival order is not trusted: the state comes from the object
itself, re-fetched from the API, and the pledge's transition table refuses to go backwards."""

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import (
    Case,
    Pledge,
    PledgeStatus,
    Supporter,
)
from pledges.payments import stripe_take_backs
from pledges.payments.stripe_gateway import ChargeFacts, StripeGateway, from_timestamp, id_of
from pledges.services import ledger, payment_problems, pledges, reminders
from pledges.services.rhythm import charge_day, first_on_or_after

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], StripeGateway], None]

STATUS_FROM_STRIPE = {
    "active": PledgeStatus.ACTIVE,
    "past_due": PledgeStatus.PAST_DUE,
    "unpaid": PledgeStatus.PAST_DUE,
    "paused": PledgeStatus.PAUSED,
    "canceled": PledgeStatus.CANCELED,
    "incomplete_expired": PledgeStatus.CANCELED,
}


def pledge_for(subscription_id: str | None, metadata: dict | None) -> Pledge | None:
    if subscription_id:
        pledge = pledges.find_by_subscription(subscription_id)
        if pledge is not None:
            return pledge
    reference = (metadata or {}).get("pledge_id")
    if reference and str(reference).isdigit():
        pledge = db.session.get(Pledge, int(reference))
        if pledge is not None and pledge.provider == "stripe":
            return pledge
    return None


def sync_subscription(
    pledge: Pledge,
    gateway: StripeGateway,
    subscription_id: str,
    subscription: dict[str, Any] | None = None,
) -> None:
    """Bring a pledge in line with its subscription as Stripe holds it now (`subscription`, if
    the caller has just fetched it)."""
    subscription = subscription or gateway.fetch_subscription(subscription_id)
    now = datetime.now(UTC)
    status = STATUS_FROM_STRIPE.get(subscription["status"])
    if subscription.get("pause_collection") and status != PledgeStatus.CANCELED:
        status = PledgeStatus.PAUSED
    if status == PledgeStatus.CANCELED and pledge.status == PledgeStatus.PAST_DUE:
        payment_problems.give_up(pledge, now)  # Stripe stopped retrying
    if status is not None:
        pledges.move(pledge, status, now)
    if anchor := subscription.get("billing_cycle_anchor"):
        pledge.charge_day = from_timestamp(anchor).day
    items = (subscription.get("items") or {}).get("data") or []
    if items:
        # Whatever changed it, here or in Stripe's Billing Portal, shows on the member page; an
        # ended pledge too, since the change's event may arrive after the cancellation's.
        pledge.amount = items[0]["price"]["unit_amount"] * items[0].get("quantity", 1)
    if items and pledge.status != PledgeStatus.CANCELED:
        item = items[0]
        period_end = from_timestamp(item["current_period_end"])
        pause = subscription.get("pause_collection") or {}
        resumes_at = pause.get("resumes_at")
        # Stripe collects again from `resumes_at` (an hour before the renewal, when the pause
        # was made here): the pause ends with the first renewal from then on.
        pledge.paused_until = (
            first_on_or_after(period_end, from_timestamp(resumes_at), charge_day(pledge))
            if pause and resumes_at
            else None
        )
        ending = subscription.get("cancel_at_period_end") or subscription.get("cancel_at")
        pledge.ends_at = (
            from_timestamp(subscription.get("cancel_at") or item["current_period_end"])
            if ending
            else None
        )
        if pledge.status == PledgeStatus.PAUSED and not ending:
            pledge.next_charge_at = pledge.paused_until
        elif pledge.status in {PledgeStatus.ACTIVE, PledgeStatus.PAST_DUE} and not ending:
            pledge.next_charge_at = period_end
        else:
            pledge.next_charge_at = None


#: Ways of paying whose money is there when the charge is made (wallets are cards to Stripe).
PAID_AT_ONCE = frozenset({"card", "link"})


def gift_paid(event_session: dict[str, Any], gateway: StripeGateway) -> None:
    """A one-off gift, recorded when Stripe says the session is paid, as Stripe holds it now.

    Dated when charged if its money came then (a card); a bank debit's or transfer's came days
    after its charge was made, and Stripe keeps no time of its arrival: it is dated when first
    seen paid, here, so that it funds no payout made while it was on its way."""
    session = gateway.fetch_checkout_session(event_session["id"])
    metadata = session.get("metadata") or {}
    reference = str(metadata.get("gift_for_supporter") or "")
    intent_id = id_of(session.get("payment_intent"))
    if session.get("payment_status") != "paid" or not reference.isdigit() or not intent_id:
        return
    # A giver who deleted their account meanwhile (a bank debit takes days) gave all the same:
    # the gift is in the books, anonymous, like their pledges' payments.
    supporter = db.session.get(Supporter, int(reference))
    if supporter is None:
        log.warning("gift session %s matches no supporter", session["id"])
        return
    case_id = str(metadata.get("case_id") or "")
    charge = gateway.fetch_intent_charge(intent_id)
    currency = session["currency"].upper()
    gift = pledges.record_gift(
        supporter,
        payment_id=intent_id,
        provider="stripe",
        currency=currency,
        **_settlement(charge, session["amount_total"], currency),
        paid_at=from_timestamp(charge.created or session["created"])
        if (charge.paid_by or "card") in PAID_AT_ONCE
        else datetime.now(UTC),
        case=db.session.get(Case, int(case_id)) if case_id.isdigit() else None,
        charge_id=charge.charge_id,
        receipt_url=charge.receipt_url,
    )
    stripe_take_backs.settle_new_payment(gift, charge)


def _checkout_completed(session: dict[str, Any], gateway: StripeGateway) -> None:
    if session.get("mode") == "payment":
        gift_paid(session, gateway)
        return
    if session.get("mode") != "subscription":
        return
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get(
        "pledge_id"
    )
    subscription_id = id_of(session.get("subscription"))
    pledge = pledge_for(subscription_id, {"pledge_id": reference})
    if pledge is None:
        log.warning("checkout session %s matches no pledge", session.get("id"))
        return
    pledges.link_subscription(
        pledge, subscription_id=subscription_id, customer_id=id_of(session.get("customer"))
    )
    if subscription_id:
        sync_subscription(pledge, gateway, subscription_id)


def subscription_of(invoice: dict[str, Any]) -> tuple[str | None, dict | None]:
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return id_of(details.get("subscription")), details.get("metadata")


def _invoice_paid(event_invoice: dict[str, Any], gateway: StripeGateway) -> None:
    # A paid invoice is final (its amount, customer and subscription never change again), and
    # the event is signed: only an event that does not yet say "paid", or comes in an older API
    # version's shape than our client's (no `parent`), is worth a round trip.
    if event_invoice.get("status") != "paid" or "parent" not in event_invoice:
        event_invoice = gateway.fetch_invoice(event_invoice["id"])
    apply_paid_invoice(event_invoice, gateway)


def apply_paid_invoice(invoice: dict[str, Any], gateway: StripeGateway) -> None:
    """Record a paid invoice (as Stripe holds it now) against its pledge, once."""
    if invoice.get("status") != "paid":
        return
    subscription_id, metadata = subscription_of(invoice)
    pledge = pledge_for(subscription_id, metadata)
    if pledge is None:
        log.warning("paid invoice %s matches no pledge", invoice["id"])
        return
    # Every read from Stripe comes before anything is written: a write locks its row (the
    # pledge, its supporter) and recording takes the ledger's lock, each held until this
    # transaction commits; a network round trip under them makes the other events of the same
    # renewal, or a burst of renewals, queue up one by one.
    subscription = gateway.fetch_subscription(subscription_id) if subscription_id else None
    charge = None
    if invoice.get("amount_paid", 0) > 0 and not pledges.is_recorded(invoice["id"]):
        charge = gateway.fetch_invoice_charge(invoice["id"])
    if charge is not None:
        # The ledger's lock before the first write: recording takes it anyway, and a pledge
        # row locked first could meet another payment of the same pledge holding it (deadlock).
        ledger.lock()
    pledges.link_subscription(
        pledge, subscription_id=subscription_id, customer_id=id_of(invoice.get("customer"))
    )
    if charge is not None:
        paid_at = (invoice.get("status_transitions") or {}).get("paid_at") or invoice["created"]
        contribution = pledges.record_payment(
            pledge,
            payment_id=invoice["id"],
            **_settlement(charge, invoice["amount_paid"], invoice["currency"].upper()),
            paid_at=from_timestamp(paid_at),
            charge_id=charge.charge_id,
            receipt_url=invoice.get("hosted_invoice_url"),
        )
        stripe_take_backs.settle_new_payment(contribution, charge)
    payment_problems.resolve(invoice["id"], datetime.now(UTC))
    if subscription_id:
        sync_subscription(pledge, gateway, subscription_id, subscription)


def invoice_problem(kind: str) -> Handler:
    """A renewal that did not go through: noted for the member page (and, for 3-D Secure, an
    email with the link to confirm it), and the pledge's state taken from the subscription."""

    def handle(event_invoice: dict[str, Any], gateway: StripeGateway) -> None:
        invoice = gateway.fetch_invoice(event_invoice["id"])
        subscription_id, metadata = subscription_of(invoice)
        pledge = pledge_for(subscription_id, metadata)
        if pledge is None:
            return
        if invoice.get("status") == "open":
            payment_problems.record(
                pledge,
                invoice_id=invoice["id"],
                kind=kind,
                amount=invoice.get("amount_due", 0),
                hosted_url=invoice.get("hosted_invoice_url"),
                at=from_timestamp(invoice.get("created") or event_invoice.get("created", 0)),
            )
        if subscription_id:
            sync_subscription(pledge, gateway, subscription_id)

    return handle


def _invoice_upcoming(invoice: dict[str, Any], gateway: StripeGateway) -> None:
    """Stripe's own notice of a renewal: the same reminder our schedule would queue, under the
    same key, so whichever comes first is the only one."""
    subscription_id, metadata = subscription_of(invoice)
    pledge = pledge_for(subscription_id, metadata)
    if pledge is None or subscription_id is None:
        return
    sync_subscription(pledge, gateway, subscription_id)
    if pledge.status == PledgeStatus.ACTIVE and pledge.ends_at is None:
        reminders.queue_upcoming_charge(pledge)


def invoice_closed(invoice: dict[str, Any], gateway: StripeGateway) -> None:
    """Voided or given up on: nothing more can be paid on it, so it stops asking."""
    payment_problems.resolve(invoice["id"], datetime.now(UTC))


def _card_updated(payment_method: dict[str, Any], gateway: StripeGateway) -> None:
    """The card network sent the bank's new expiry or number: remember which card it is."""
    customer = id_of(payment_method.get("customer"))
    card = payment_method.get("card") or {}
    supporter = db.session.scalar(select(Supporter).where(Supporter.stripe_customer_id == customer))
    if supporter is not None and card:
        payment_problems.remember_card(
            supporter,
            brand=card.get("brand"),
            last4=card.get("last4"),
            month=card.get("exp_month"),
            year=card.get("exp_year"),
        )


def _subscription_changed(subscription: dict[str, Any], gateway: StripeGateway) -> None:
    pledge = pledge_for(subscription["id"], subscription.get("metadata"))
    if pledge is None:
        return
    pledges.link_subscription(
        pledge, subscription_id=subscription["id"], customer_id=id_of(subscription.get("customer"))
    )
    sync_subscription(pledge, gateway, subscription["id"])


def _settlement(charge: ChargeFacts, paid: int, currency: str) -> dict[str, int]:
    """What a payment brought the fund, from its balance transaction, for `record_payment`."""
    ledger_currency = current_app.config["FUND_CURRENCY"]
    if charge.settled_amount is None and currency == ledger_currency:
        return {"paid": paid, "gross": paid, "fee": charge.fee}
    if charge.settled_amount is None or charge.settled_currency != ledger_currency:
        # Retried by Stripe until fixed: counting it in the wrong currency would be worse.
        raise SettlementError(
            f"a payment settled in {charge.settled_currency or 'an unknown currency'}, but "
            f"FUND_CURRENCY is {ledger_currency}: set it to the Stripe account's currency"
        )
    return {"paid": paid, "gross": charge.settled_amount, "fee": charge.fee}


class SettlementError(RuntimeError):
    """Stripe paid out in another currency than the ledger's."""


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": invoice_problem("failed"),
    "invoice.payment_action_required": invoice_problem("action_required"),
    "invoice.upcoming": _invoice_upcoming,
    "invoice.voided": invoice_closed,
    "invoice.marked_uncollectible": invoice_closed,
    # A bank debit or transfer paid later: the session completed unpaid, now it is paid.
    "checkout.session.async_payment_succeeded": gift_paid,
    "payment_method.automatically_updated": _card_updated,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_changed,
    "charge.refunded": stripe_take_backs.charge_refunded,
    # The same news: endpoints on API versions before 2024-10-28 hear card refunds change only
    # through `charge.refund.updated`; either comes with the refund.
    "refund.updated": stripe_take_backs.refund_changed,
    "charge.refund.updated": stripe_take_backs.refund_changed,
    "charge.dispute.created": stripe_take_backs.dispute_changed,
    "charge.dispute.funds_withdrawn": stripe_take_backs.dispute_changed,
    "charge.dispute.funds_reinstated": stripe_take_backs.dispute_changed,
    "charge.dispute.closed": stripe_take_backs.dispute_changed,
}
