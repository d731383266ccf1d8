"""Charges that did not go through, from the provider's events, until the invoice is paid."""

from datetime import datetime

from sqlalchemy import select, update

from pledges.extensions import add_unless_taken, db
from pledges.models import PaymentProblem, Pledge, PledgeStatus, Supporter
from pledges.services import mail_outbox


def record(
    pledge: Pledge,
    *,
    invoice_id: str,
    kind: str,
    amount: int,
    hosted_url: str | None,
    at: datetime,
) -> PaymentProblem:
    """Note the problem once per invoice; a later event may change its kind (a failed charge
    that then needs the bank's confirmation)."""
    if pledge.supporter.erased_at is not None:
        hosted_url = None  # the provider's page names the donor; see accounts.erase
    found = select(PaymentProblem).where(PaymentProblem.invoice_id == invoice_id)
    problem = db.session.scalar(found)
    if problem is None:
        # Stripe's events for two attempts at the same invoice may be handled at the same
        # moment: the second takes the first's row.
        problem = add_unless_taken(
            lambda: PaymentProblem(
                pledge=pledge,
                invoice_id=invoice_id,
                currency=pledge.currency,
                occurred_at=at,
                kind=kind,
                amount=amount,
                hosted_url=hosted_url,
            )
        ) or db.session.scalar(found)
    if problem.resolved_at is None:
        problem.kind, problem.amount = kind, amount
        problem.hosted_url = hosted_url or problem.hosted_url
    if kind == "failed":
        queue_dunning(problem, 0)
    if kind == "action_required" and hosted_url:
        mail_outbox.enqueue(
            "action-required",
            recipient=pledge.supporter.email,
            dedupe_key=f"action-required:{invoice_id}",
            context={"pledge_id": pledge.id, "invoice_id": invoice_id},
        )
    db.session.flush()
    return problem


#: Days after a failed payment when it is asked about again, while still unpaid.
DUNNING_DAYS = (3, 7)


def queue_dunning(problem: PaymentProblem, day: int) -> bool:
    """The payment-failed email of that day; the key names the invoice and the day."""
    row = mail_outbox.enqueue(
        "payment-failed",
        recipient=problem.pledge.supporter.email,
        dedupe_key=f"dunning:{problem.invoice_id}:{day}",
        context={"invoice_id": problem.invoice_id, "day": day},
    )
    return row is not None


def give_up(pledge: Pledge, at: datetime) -> None:
    """The provider stopped retrying a failed payment and ended the subscription: say so
    once, with the way back, and close what was still unpaid."""
    mail_outbox.enqueue(
        "pledge-ended",
        recipient=pledge.supporter.email,
        dedupe_key=f"pledge-ended:{pledge.id}",
        context={"pledge_id": pledge.id},
    )
    resolve_for(pledge, at)


def resolve(invoice_id: str, at: datetime) -> None:
    db.session.execute(
        update(PaymentProblem)
        .where(PaymentProblem.invoice_id == invoice_id, PaymentProblem.resolved_at.is_(None))
        .values(resolved_at=at)
    )


def resolve_for(pledge: Pledge, at: datetime) -> None:
    """A pledge that ended takes its unpaid charges with it."""
    db.session.execute(
        update(PaymentProblem)
        .where(PaymentProblem.pledge_id == pledge.id, PaymentProblem.resolved_at.is_(None))
        .values(resolved_at=at)
    )


def open_for(supporter: Supporter) -> list[PaymentProblem]:
    return list(
        db.session.scalars(
            select(PaymentProblem)
            .join(Pledge, Pledge.id == PaymentProblem.pledge_id)
            .where(
                Pledge.supporter_id == supporter.id,
                Pledge.status == PledgeStatus.PAST_DUE,
                PaymentProblem.resolved_at.is_(None),
            )
            .order_by(PaymentProblem.occurred_at)
        )
    )


def remember_card(
    supporter: Supporter, *, brand: str | None, last4: str | None, month: int, year: int
) -> None:
    supporter.card_brand, supporter.card_last4 = brand, last4
    supporter.card_exp_month, supporter.card_exp_year = month, year
