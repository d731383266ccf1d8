"""Organizers' side of disbursements: what a pool holds before paying, recording a payment and
correcting a mistaken one. Every change goes through the ledger, as the command line's does."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement, Organizer
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
    pools = (Contribution.earmarked_case_id == case.id) | Contribution.earmarked_case_id.is_(None)
    paid_in_time = (
        Contribution.currency == case.currency,
        Contribution.paid_at < cutoff(paid_on),
        pools,
    )
    available = dict(
        db.session.execute(
            select(Contribution.earmarked_case_id, func.sum(AVAILABLE))
            .where(*paid_in_time)
            .group_by(Contribution.earmarked_case_id)
        ).all()
    )
    given = dict(
        db.session.execute(
            select(Contribution.earmarked_case_id, func.sum(Allocation.amount))
            .join(Allocation, Allocation.contribution_id == Contribution.id)
            .where(*paid_in_time)
            .group_by(Contribution.earmarked_case_id)
        ).all()
    )
    return PoolFigure(
        currency=case.currency,
        earmarked=available.get(case.id, 0) - given.get(case.id, 0),
        general=available.get(None, 0) - given.get(None, 0),
    )


def unallocated(currency: str) -> int:
    """Money in every pool that no disbursement has spent yet."""
    available = db.session.scalar(
        select(func.coalesce(func.sum(AVAILABLE), 0)).where(Contribution.currency == currency)
    )
    given = db.session.scalar(
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(Disbursement.currency == currency)
    )
    return available - given


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
