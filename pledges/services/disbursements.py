"""Organizers' side of disbursements: what a pool holds before paying, recording a payment and
correcting a mistaken one. Every change goes through the ledger, as the command line's does."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, Contribution, Disbursement, Organizer
from pledges.services import audit, ledger
from pledges.services.ledger import AVAILABLE, cutoff


@dataclass(frozen=True)
class PoolFigure:
    """What contributions paid by a day still hold for a case: its earmarked money first,
    then the general fund."""

    currency: str
    earmarked: int
    general: int

    @property
    def total(self) -> int:
        return self.earmarked + self.general

    def other_income_for(self, amount: int) -> int:
        """The part of `amount` no contribution could cover, if it were recorded now."""
        return max(0, amount - self.total)


def pool_for(case: Case, paid_on: date) -> PoolFigure:
    before = cutoff(paid_on)
    return PoolFigure(
        currency=case.currency,
        earmarked=ledger.remaining(case.currency, case.id, before),
        general=ledger.remaining(case.currency, None, before),
    )


def unallocated(currency: str) -> int:
    """Money in every pool that no disbursement has spent yet."""
    available = db.session.scalar(
        select(func.coalesce(func.sum(AVAILABLE), 0)).where(Contribution.currency == currency)
    )
    # What disbursements took from contributions: their amounts less other income, which the
    # ledger keeps equal to their allocations (a few thousand rows, not a million).
    spent = db.session.scalar(
        select(func.coalesce(func.sum(Disbursement.amount - Disbursement.other_income), 0)).where(
            Disbursement.currency == currency, Disbursement.in_ledger
        )
    )
    return available - spent


def record(
    case: Case, amount: int, paid_on: date, note: str, *, by: Organizer | None
) -> Disbursement:
    disbursement = ledger.record_disbursement(case, amount, paid_on, note)
    audit.record(
        "disbursement.record",
        disbursement,
        f"{amount} {case.currency} to case:{case.id} on {paid_on.isoformat()}",
        by=by,
    )
    return disbursement


def reverse(original: Disbursement, paid_on: date, note: str, *, by: Organizer) -> Disbursement:
    correction = ledger.reverse_disbursement(original, paid_on, note)
    audit.record("disbursement.reverse", original, f"by disbursement:{correction.id}", by=by)
    return correction


def history() -> list[Disbursement]:
    return list(
        db.session.scalars(
            select(Disbursement).order_by(Disbursement.paid_on.desc(), Disbursement.id.desc())
        )
    )
