"""Plays Stripe's part on a machine with no keys: a local checkout page and the same service
calls that Stripe's webhooks cause. No money moves."""

import secrets
from calendar import monthrange
from datetime import datetime

from flask import url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer

from pledges.models import Contribution, Pledge
from pledges.models.types import utcnow
from pledges.services import ledger, pledges

CHECKOUT_LIFETIME_SECONDS = 24 * 3600


def add_months(moment: datetime, months: int) -> datetime:
    """The same day `months` later, or the month's last day if it is shorter."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, monthrange(year, month)[1]))


def demo_fee(gross: int) -> int:
    """A card fee shaped like a real one (1.5 % + 25), so the demo shows fees in the ledger."""
    return min(gross, round(gross * 0.015) + 25)


class DemoGateway:
    name = "demo"

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="pledges-demo-checkout")

    def start_checkout(self, pledge: Pledge, *, success_url: str, cancel_url: str) -> str:
        session = self._serializer.dumps(
            {"pledge": pledge.id, "success": success_url, "cancel": cancel_url}
        )
        return url_for("demo.checkout", session=session)

    def open_session(self, session: str) -> dict | None:
        """The checkout session a signed link stands for, or None if forged or stale."""
        try:
            return self._serializer.loads(session, max_age=CHECKOUT_LIFETIME_SECONDS)
        except BadSignature:
            return None

    def pay(self, pledge: Pledge, now: datetime | None = None) -> Contribution:
        """What Stripe does when the card goes through: the subscription starts and its first
        invoice is paid."""
        now = now or utcnow()
        pledges.link_subscription(
            pledge,
            subscription_id=pledge.provider_subscription_id or f"demo_sub_{secrets.token_hex(8)}",
            customer_id=f"demo_cus_{secrets.token_hex(8)}",
        )
        contribution = pledges.record_payment(
            pledge,
            payment_id=f"demo_in_{secrets.token_hex(8)}",
            gross=pledge.amount,
            fee=demo_fee(pledge.amount),
            paid_at=now,
        )
        pledge.next_charge_at = add_months(now, 1)
        return contribution

    # The demo's subscription is the pledge row itself: a change has nothing else to reach.

    def change_amount(self, pledge: Pledge, amount: int) -> None:
        pass

    def pause(self, pledge: Pledge, until: datetime) -> None:
        pass

    def resume(self, pledge: Pledge) -> None:
        pass

    def cancel_at_period_end(self, pledge: Pledge, cancel: bool) -> None:
        pass

    def end_now(self, pledge: Pledge) -> None:
        pass

    def forget_customer(self, customer_id: str) -> None:
        pass

    def refund(self, contribution: Contribution, amount: int | None = None) -> None:
        """What Stripe's `charge.refunded` does: all of it, or `amount` more, goes back."""
        refunded = contribution.gross if amount is None else contribution.refunded + amount
        ledger.take_back(contribution, refunded=refunded)

    def dispute(self, contribution: Contribution) -> None:
        """What Stripe's `charge.dispute.created` does: the bank takes the payment back."""
        ledger.take_back(contribution, disputed=contribution.gross - contribution.refunded)
