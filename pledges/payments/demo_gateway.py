"""Plays Stripe's part on a machine with no keys: a local checkout page and the same service
calls that Stripe's webhooks cause. No money moves."""

import secrets
from datetime import datetime, timedelta

from flask import current_app, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Case, Contribution, Pledge, PledgeStatus, Supporter
from pledges.models.types import utcnow
from pledges.payments import demo_rates
from pledges.services import ledger, payment_problems, pledges
from pledges.services.rhythm import add_months, charge_day

#: How long the demo, like Stripe's retry schedule, keeps trying a failed payment.
RETRIES_FOR = timedelta(days=8)

CHECKOUT_LIFETIME_SECONDS = 24 * 3600


def demo_fee(gross: int) -> int:
    """A card fee shaped like a real one (1.5 % + 25), so the demo shows fees in the ledger."""
    return min(gross, round(gross * 0.015) + 25)


def settlement(amount: int, currency: str) -> dict[str, int]:
    """What a demo payment of `amount` brings the fund, as `record_payment` takes it: converted
    to the ledger's currency at the demo's fixed rates, less a card fee."""
    gross = demo_rates.convert(amount, currency, current_app.config["FUND_CURRENCY"])
    return {"paid": amount, "gross": gross, "fee": demo_fee(gross)}


class DemoGateway:
    name = "demo"

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="pledges-demo-checkout")

    def start_checkout(self, pledge: Pledge, *, success_url: str, cancel_url: str) -> str:
        session = self._serializer.dumps(
            {"pledge": pledge.id, "success": success_url, "cancel": cancel_url}
        )
        return url_for("demo.checkout", session=session)

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
        gift = {
            "supporter": supporter.id,
            "amount": amount,
            "currency": currency,
            "case": case.id if case else None,
            # Names the payment: the same session paid twice is one gift.
            "payment": f"demo_gift_{secrets.token_hex(8)}",
        }
        session = self._serializer.dumps(
            {"gift": gift, "success": success_url, "cancel": cancel_url}
        )
        return url_for("demo.gift", session=session)

    def pay_gift(self, gift: dict, now: datetime | None = None) -> Contribution:
        supporter = db.session.get(Supporter, gift["supporter"])
        return pledges.record_gift(
            supporter,
            payment_id=gift["payment"],
            provider=self.name,
            currency=gift["currency"],
            **settlement(gift["amount"], gift["currency"]),
            paid_at=now or utcnow(),
            case=db.session.get(Case, gift["case"]) if gift["case"] else None,
        )

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
            **settlement(pledge.amount, pledge.currency),
            paid_at=now,
        )
        pledge.next_charge_at, pledge.charge_day = add_months(now, 1), now.day
        return contribution

    # The demo's subscription is the pledge row itself: a change has nothing else to reach.

    def change_amount(self, pledge: Pledge, amount: int) -> None:
        pass

    def renews_next(self, pledge: Pledge) -> datetime | None:
        return None

    def pause(self, pledge: Pledge, until: datetime) -> None:
        pass

    def resume(self, pledge: Pledge) -> None:
        pass

    def cancel_at_period_end(self, pledge: Pledge, cancel: bool) -> None:
        pass

    def end_now(self, pledge: Pledge) -> None:
        pass

    def card_update_url(self, pledge: Pledge, *, return_url: str, external: bool = False) -> str:
        session = self._serializer.dumps(
            {"pledge": pledge.id, "card": True, "success": return_url, "cancel": return_url}
        )
        return url_for("demo.card", session=session, _external=external)

    def update_card(self, pledge: Pledge, now: datetime | None = None) -> None:
        """What Stripe does when a new card is saved: remember it, and retry what failed."""
        now = now or utcnow()
        payment_problems.remember_card(
            pledge.supporter, brand="visa", last4="4242", month=12, year=now.year + 3
        )
        for problem in payment_problems.open_for(pledge.supporter):
            if problem.pledge_id != pledge.id:
                continue
            pledges.record_payment(
                pledge,
                payment_id=problem.invoice_id,
                **settlement(problem.amount, problem.currency),
                paid_at=now,
            )
            payment_problems.resolve(problem.invoice_id, now)

    def fail_charge(self, pledge: Pledge, now: datetime | None = None, *, action: bool = False):  # noqa: ANN201
        """What a declined renewal (or one the bank wants confirmed) does: for trying the
        demo's past-due banner and for tests."""
        now = now or utcnow()
        invoice_id = f"demo_in_{secrets.token_hex(8)}"
        problem = payment_problems.record(
            pledge,
            invoice_id=invoice_id,
            kind="action_required" if action else "failed",
            amount=pledge.amount,
            # Stripe's page for the bank's confirmation; here the demo's card page does it.
            hosted_url=self._confirmation_url(pledge) if action else None,
            at=now,
        )
        pledges.move(pledge, PledgeStatus.PAST_DUE, now)
        return problem

    def _confirmation_url(self, pledge: Pledge) -> str:
        """An address for an email, so also outside a request (the CLI's demo data)."""
        with current_app.test_request_context("/", base_url=current_app.config["BASE_URL"]):
            member_page = url_for("member.home", _external=True)
            return self.card_update_url(pledge, return_url=member_page, external=True)

    def forget_customer(self, customer_id: str) -> None:
        pass

    def run_billing(self, now: datetime | None = None) -> int:
        """What Stripe does each day, for demo pledges: pauses that are over resume, canceled
        pledges end when their paid period does, a failed payment still unpaid after its
        retries ends the pledge, and charges that are due are paid. Returns how many payments
        were made; running it again the same day makes none."""
        now = now or utcnow()
        paid = 0
        due = db.session.scalars(
            select(Pledge).where(
                Pledge.provider == self.name, Pledge.status != PledgeStatus.PENDING
            )
        )
        for pledge in due:
            if (
                pledge.status == PledgeStatus.PAUSED
                and pledge.paused_until
                and pledge.paused_until <= now
            ):
                pledges.move(pledge, PledgeStatus.ACTIVE, now)
                pledge.paused_until = None
            if pledge.ends_at and pledge.ends_at <= now:
                pledges.move(pledge, PledgeStatus.CANCELED, now)
                continue
            if pledge.status == PledgeStatus.PAST_DUE and self._retries_over(pledge, now):
                payment_problems.give_up(pledge, now)
                pledges.move(pledge, PledgeStatus.CANCELED, now)
                continue
            while (
                pledge.status == PledgeStatus.ACTIVE
                and pledge.next_charge_at is not None
                and pledge.next_charge_at <= now
            ):
                pledges.record_payment(
                    pledge,
                    payment_id=f"demo_renewal_{pledge.id}_{pledge.next_charge_at:%Y%m%d}",
                    **settlement(pledge.amount, pledge.currency),
                    paid_at=pledge.next_charge_at,
                )
                pledge.next_charge_at = add_months(pledge.next_charge_at, 1, day=charge_day(pledge))
                paid += 1
        return paid

    @staticmethod
    def _retries_over(pledge: Pledge, now: datetime) -> bool:
        unpaid = payment_problems.open_for(pledge.supporter)
        return any(
            problem.pledge_id == pledge.id and problem.occurred_at + RETRIES_FOR <= now
            for problem in unpaid
        )

    def refund(self, contribution: Contribution, amount: int | None = None) -> None:
        """What Stripe's `charge.refunded` does: all of it, or `amount` more (in the currency
        paid), goes back."""
        paid = contribution.paid_amount
        refunded = paid if amount is None else contribution.refunded_paid + amount
        ledger.take_back(contribution, refunded=refunded)

    def dispute(self, contribution: Contribution) -> None:
        """What Stripe's `charge.dispute.created` does: the bank takes the payment back."""
        ledger.take_back(contribution, disputed=contribution.paid_amount)
