"""Stripe: Checkout in subscription mode, signed webhooks, and the API reads that webhook
handling trusts more than the order events arrive in."""

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import stripe
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Case, Pledge, Setting, Supporter
from pledges.payments.gateway import ProviderError

PRODUCT_SETTING = "stripe_product_id"
#: Currencies whose API amounts Stripe counts in whole units, or in thousandths (with a last
#: digit of 0); every other one in hundredths (docs.stripe.com/currencies), whatever ISO 4217
#: says: 1,000 ISK is `100000` to Stripe.
STRIPE_ZERO_DECIMAL = frozenset(
    "BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)
STRIPE_THREE_DECIMAL = frozenset("BHD JOD KWD OMR TND".split())
SIGNATURE_TOLERANCE_SECONDS = 300
#: A refund in these states gave nothing back to the card, or gave it back to the account.
REFUNDS_NOT_MADE = frozenset({"failed", "canceled"})


def id_of(value: str | dict | None) -> str | None:
    """An expandable field of a Stripe object is an id or the object itself."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def from_timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class InvalidWebhook(ValueError):
    """The request is not a genuine, fresh Stripe event for this account's mode."""


class StripeGateway:
    name = "stripe"

    def __init__(
        self, *, secret_key: str, webhook_secret: str, fund_name: str, api_base: str = ""
    ) -> None:
        addresses = {"api": api_base.rstrip("/")} if api_base else None
        self.client = stripe.StripeClient(
            secret_key, base_addresses=addresses, max_network_retries=2
        )
        self._secret_key, self._addresses = secret_key, addresses
        self.webhook_secret = webhook_secret
        self.fund_name = fund_name
        #: Events must come from the same mode as our key: a test event must not move live money.
        self.livemode = secret_key.startswith(("sk_live_", "rk_live_"))

    # -- checkout ---------------------------------------------------------------------------

    def product_id(self) -> str:
        """The one Product every pledge's price belongs to, created on first use."""
        stored = db.session.scalar(select(Setting.value).where(Setting.key == PRODUCT_SETTING))
        if stored:
            return stored
        product = self.client.v1.products.create(
            params={"name": f"Monthly pledge to {self.fund_name}"},
            options={"idempotency_key": "pledges-monthly-product"},
        )
        db.session.merge(Setting(key=PRODUCT_SETTING, value=product.id))
        return product.id

    def _price(self, currency: str, amount: int, *, monthly: bool = True) -> dict[str, Any]:
        """An inline price on the fund's one Product: no Price objects to keep in sync."""
        price = {
            "currency": currency.lower(),
            "product": self.product_id(),
            "unit_amount": amount,
        }
        if monthly:
            price["recurring"] = {"interval": "month"}
        return price

    def start_checkout(self, pledge: Pledge, *, success_url: str, cancel_url: str) -> str:
        pledge_ref = str(pledge.id)
        session = self.client.v1.checkout.sessions.create(
            params={
                "mode": "subscription",
                "submit_type": "donate",
                "line_items": [
                    {"quantity": 1, "price_data": self._price(pledge.currency, pledge.amount)}
                ],
                # Never `customer=`: the form is public, and a saved card must not be shown to
                # whoever typed someone else's address.
                "customer_email": pledge.supporter.email,
                "client_reference_id": pledge_ref,
                "metadata": {"pledge_id": pledge_ref},
                "subscription_data": {"metadata": {"pledge_id": pledge_ref}},
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            options={"idempotency_key": f"pledge-{pledge_ref}-checkout"},
        )
        return session.url

    # -- the supporter's changes ------------------------------------------------------------

    def _update(self, pledge: Pledge, params: dict[str, Any]) -> dict[str, Any]:
        # A fresh key per change: the library's own retries of this call reuse it, and Stripe
        # applies the change once.
        try:
            return self.client.v1.subscriptions.update(
                pledge.provider_subscription_id,
                params=params,
                options={"idempotency_key": f"pledge-{pledge.id}-{uuid.uuid4().hex}"},
            ).to_dict()
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error

    def _subscription(self, pledge: Pledge) -> dict[str, Any]:
        try:
            return self.fetch_subscription(pledge.provider_subscription_id)
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error

    def change_amount(self, pledge: Pledge, amount: int) -> None:
        item = self._subscription(pledge)["items"]["data"][0]
        self._update(
            pledge,
            {
                "items": [{"id": item["id"], "price_data": self._price(pledge.currency, amount)}],
                "proration_behavior": "none",
            },
        )

    def renews_next(self, pledge: Pledge) -> datetime:
        return from_timestamp(self._subscription(pledge)["items"]["data"][0]["current_period_end"])

    def pause(self, pledge: Pledge, until: datetime) -> None:
        # "void": the invoices of the paused months are not collected, ever. Collection resumes
        # an hour before the renewal that ends the pause, so that one is surely collected.
        resumes_at = int(until.timestamp()) - 3600
        self._update(pledge, {"pause_collection": {"behavior": "void", "resumes_at": resumes_at}})

    def resume(self, pledge: Pledge) -> None:
        self._update(pledge, {"pause_collection": ""})

    def cancel_at_period_end(self, pledge: Pledge, cancel: bool) -> None:
        self._update(pledge, {"cancel_at_period_end": cancel})

    def end_now(self, pledge: Pledge) -> None:
        try:
            self.client.v1.subscriptions.cancel(
                pledge.provider_subscription_id,
                options={"idempotency_key": f"pledge-{pledge.id}-end-now"},
            )
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:  # already gone at Stripe: nothing left to end
                raise ProviderError(str(error)) from error
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error

    def forget_customer(self, customer_id: str) -> None:
        try:
            self.client.v1.customers.delete(
                customer_id, options={"idempotency_key": f"customer-{customer_id}-delete"}
            )
        except stripe.InvalidRequestError as error:
            if error.http_status != 404:
                raise ProviderError(str(error)) from error
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error

    def card_update_url(self, pledge: Pledge, *, return_url: str) -> str:
        """Stripe's Billing Portal, opened straight on updating the card, and back."""
        try:
            portal = self.client.v1.billing_portal.sessions.create(
                params={
                    "customer": pledge.provider_customer_id or pledge.supporter.stripe_customer_id,
                    "return_url": return_url,
                    "flow_data": {
                        "type": "payment_method_update",
                        "after_completion": {
                            "type": "redirect",
                            "redirect": {"return_url": return_url},
                        },
                    },
                },
                options={"idempotency_key": f"pledge-{pledge.id}-card-{uuid.uuid4().hex}"},
            )
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error
        return portal.url

    def start_gift_checkout(
        self,
        supporter: Supporter,
        amount: int,
        currency: str,
        case: Case | None,
        *,
        success_url: str,
        cancel_url: str,
    ) -> str:
        metadata = {
            "gift_for_supporter": str(supporter.id),
            "case_id": str(case.id) if case else "",
        }
        try:
            session = self.client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "submit_type": "donate",
                    "line_items": [
                        {"quantity": 1, "price_data": self._price(currency, amount, monthly=False)}
                    ],
                    # Signed in, so their own customer: a saved card may be offered.
                    **(
                        {"customer": supporter.stripe_customer_id}
                        if supporter.stripe_customer_id
                        else {"customer_email": supporter.email}
                    ),
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                },
                options={"idempotency_key": f"gift-{supporter.id}-{uuid.uuid4().hex}"},
            )
        except stripe.StripeError as error:
            raise ProviderError(str(error)) from error
        return session.url

    def fetch_checkout_session(self, session_id: str) -> dict[str, Any]:
        return self.client.v1.checkout.sessions.retrieve(session_id).to_dict()

    def fetch_intent_charge(self, intent_id: str) -> "ChargeFacts":
        """The fee and receipt of a one-off payment."""
        intent = self.client.v1.payment_intents.retrieve(
            intent_id, params={"expand": ["latest_charge.balance_transaction"]}
        ).to_dict()
        charge = intent.get("latest_charge") or {}
        balance = charge.get("balance_transaction") or {}
        return ChargeFacts(
            fee=balance.get("fee", 0),
            settled_amount=balance.get("amount"),
            settled_currency=(balance.get("currency") or "").upper() or None,
            charge_id=charge.get("id"),
            refunded=self.withdrawn_by_refunds(charge),
            disputes=self.disputes_on(charge),
            receipt_url=charge.get("receipt_url"),
            created=charge.get("created"),
            paid_by=(charge.get("payment_method_details") or {}).get("type"),
        )

    def withdrawn_by_refunds(self, charge: dict[str, Any]) -> int:
        """What refunds take from a charge: those made, or on their way out. A refund that
        failed (a closed card) or was canceled gave the money back to the account: the refunds
        say, whatever `amount_refunded` still counts (one more call, for a refunded charge
        only)."""
        if not charge.get("amount_refunded"):
            return 0
        refunds = self.client.v1.refunds.list(params={"charge": charge["id"], "limit": 100})
        return sum(
            refund.get("amount", 0)
            for refund in refunds.to_dict()["data"]
            if refund.get("status") not in REFUNDS_NOT_MADE
        )

    def disputes_on(self, charge: dict[str, Any]) -> "Disputes":
        """What chargebacks hold back from a charge, and what they cost: each its own amount,
        which may be part of the charge, as the dispute's own event counts it. `disputed` stays
        true once a dispute is won, and an inquiry (`warning_*`) withdraws nothing: the disputes
        say (one more call, for a disputed charge only). Their fees are what their balance
        transactions took, less any given back with a win."""
        if not charge.get("disputed"):
            return Disputes()
        found = Disputes()
        for dispute in self.client.v1.disputes.list(params={"charge": charge["id"]}).to_dict()[
            "data"
        ]:
            status = dispute.get("status", "")
            if status != "won" and not status.startswith("warning_"):
                found.held += dispute.get("amount", 0)
            found.fees += sum(
                transaction.get("fee", 0) for transaction in dispute.get("balance_transactions", [])
            )
        found.fees = max(0, found.fees)
        return found

    # -- webhooks ---------------------------------------------------------------------------

    def parse_webhook(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Verify the signature and its age, then the mode; return the event as plain data."""
        try:
            stripe.WebhookSignature.verify_header(
                payload.decode("utf-8"),
                signature,
                self.webhook_secret,
                tolerance=SIGNATURE_TOLERANCE_SECONDS,
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
            raise InvalidWebhook(str(error)) from error
        if not isinstance(event, dict) or "id" not in event or "type" not in event:
            raise InvalidWebhook("not an event")
        if bool(event.get("livemode")) != self.livemode:
            raise InvalidWebhook("event mode does not match the configured key")
        return event

    # -- reads ------------------------------------------------------------------------------

    def fetch_subscription(self, subscription_id: str) -> dict[str, Any]:
        return self.client.v1.subscriptions.retrieve(subscription_id).to_dict()

    def subscriptions(self) -> Iterator[dict[str, Any]]:
        """Every subscription, canceled ones too: a cancellation may come at any age."""
        yield from self._walk(self.client.v1.subscriptions, {"status": "all"})

    def invoices(self, *, status: str, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Invoices in this status (`paid`, `open`, ...) created since the given time."""
        yield from self._walk(self.client.v1.invoices, {"status": status}, since)

    def completed_checkouts(self, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Checkout sessions completed (paid, or waiting for a bank debit) created since then:
        a one-off gift has no invoice, only its session."""
        yield from self._walk(self.client.v1.checkout.sessions, {"status": "complete"}, since)

    def refunds(self, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Refunds made since then, whatever the age of the charge they refund."""
        yield from self._walk(self.client.v1.refunds, {}, since)

    def disputes(self, *, since: datetime | None = None) -> Iterator[dict[str, Any]]:
        yield from self._walk(self.client.v1.disputes, {}, since)

    @staticmethod
    def _walk(
        resource: Any, params: dict[str, Any], since: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        if since is not None:
            params = {**params, "created": {"gte": int(since.timestamp())}}
        for item in resource.list(params={**params, "limit": 100}).auto_paging_iter():
            yield item.to_dict()

    def webhook_endpoints(self, timeout: float) -> list[dict[str, Any]]:
        """The endpoints this key's account sends events to (an account has at most 16), asked
        once within `timeout` seconds: for a check an operator waits on, not for money."""
        client = stripe.StripeClient(
            self._secret_key,
            base_addresses=self._addresses,
            max_network_retries=0,
            http_client=stripe.new_default_http_client(timeout=timeout),
        )
        return client.v1.webhook_endpoints.list(params={"limit": 100}).to_dict()["data"]

    def fetch_charge(self, charge_id: str) -> dict[str, Any]:
        return self.client.v1.charges.retrieve(charge_id).to_dict()

    def fetch_invoice(self, invoice_id: str) -> dict[str, Any]:
        return self.client.v1.invoices.retrieve(invoice_id).to_dict()

    def fetch_invoice_charge(self, invoice_id: str) -> "ChargeFacts":
        """What the ledger needs of a paid invoice's charge: the processor's fee, and anything
        already taken back, since a refund's own event may have come first.

        Since the 2025 API versions an invoice reaches its charge through its payments.
        """
        facts = ChargeFacts()
        payments = self.client.v1.invoice_payments.list(
            params={"invoice": invoice_id, "status": "paid"}
        )
        for payment in payments.to_dict()["data"]:
            intent_id = (payment.get("payment") or {}).get("payment_intent")
            if isinstance(intent_id, dict):
                intent_id = intent_id.get("id")
            if not intent_id:
                continue
            intent = self.client.v1.payment_intents.retrieve(
                intent_id,
                params={"expand": ["latest_charge.balance_transaction"]},
            ).to_dict()
            charge = intent.get("latest_charge") or {}
            balance = charge.get("balance_transaction") or {}
            facts.charge_id = charge.get("id")
            facts.fee += balance.get("fee", 0)
            if "amount" in balance:
                facts.settled_amount = (facts.settled_amount or 0) + balance["amount"]
                facts.settled_currency = balance.get("currency", "").upper() or None
            facts.refunded += self.withdrawn_by_refunds(charge)
            facts.disputes += self.disputes_on(charge)
        return facts


@dataclass
class Disputes:
    """What a charge's disputes hold back (in the charge's currency), and the fees they cost
    (in the account's)."""

    held: int = 0
    fees: int = 0

    def __add__(self, other: "Disputes") -> "Disputes":
        return Disputes(self.held + other.held, self.fees + other.fees)


@dataclass
class ChargeFacts:
    """What a charge's balance transaction says reached the account (in its settlement
    currency: amount before and fee), and what was taken back (in the charge's currency)."""

    fee: int = 0
    settled_amount: int | None = None
    settled_currency: str | None = None
    charge_id: str | None = None
    receipt_url: str | None = None
    #: When the charge was made (seconds since the epoch).
    created: int | None = None
    #: How it was paid, as Stripe names it ("card", "sepa_debit", …), when Stripe says.
    paid_by: str | None = None
    refunded: int = 0
    disputes: Disputes = field(default_factory=Disputes)


def currency_problem(code: str, minor_digits: int) -> str | None:
    """Why amounts in this currency, counted in `minor_digits` as the app counts them, would
    reach Stripe wrong, or None. The app sends its minor units as they are."""
    if code in STRIPE_THREE_DECIMAL:
        return f"Stripe wants amounts in {code} to end in 0, which the app does not ensure"
    stripe_digits = 0 if code in STRIPE_ZERO_DECIMAL else 2
    if stripe_digits != minor_digits:
        return (
            f"Stripe counts {code} in {stripe_digits} decimals where the app counts "
            f"{minor_digits}: amounts would be charged {10 ** abs(stripe_digits - minor_digits)} "
            "times off"
        )
    return None
