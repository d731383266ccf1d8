"""Recording in the ledger: disbursements, and the changes that can rewrite history (refunds,
disputes, payments recorded late). Each keeps the rows exactly what a full rebuild would write."""

from datetime import UTC, date

from sqlalchemy import and_, case, func, or_, select, true, tuple_, update

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement
from pledges.services.ledger.common import (
    LEFT,
    UNSPENT,
    contributions,
    cutoff,
    expire_contributions,
    lock,
)
from pledges.services.ledger.rebuilding import insert_allocations, rebuild

#: Contributions read and written per round trip while spending.
BATCH = 500


# -- recording ---------------------------------------------------------------------------------


def record_disbursement(case: Case, amount: int, paid_on: date, note: str = "") -> Disbursement:
    """Record money paid to a case and attribute it, in the caller's transaction."""
    if amount <= 0:
        raise ValueError("a disbursement must be a positive amount")
    lock()
    disbursement = Disbursement(
        case=case, amount=amount, currency=case.currency, paid_on=paid_on, note=note
    )
    db.session.add(disbursement)
    db.session.flush()
    later = db.session.scalar(
        select(func.count()).select_from(Disbursement).where(Disbursement.paid_on > paid_on)
    )
    if later:
        rebuild(since=disbursement.ledger_key)
    else:
        _spend(disbursement)
    return disbursement


def _pools(disbursement: Disbursement) -> list:
    return [
        Contribution.earmarked_case_id == disbursement.case_id,
        Contribution.earmarked_case_id.is_(None),
    ]


def _spend(disbursement: Disbursement) -> None:
    """Attribute the newest disbursement from what contributions have left, in spending order."""
    remaining = disbursement.amount
    before = cutoff(disbursement.paid_on)
    for pool in _pools(disbursement):
        while remaining:
            batch = db.session.execute(
                select(Contribution.id, LEFT.label("left"))
                .where(
                    pool,
                    UNSPENT,
                    Contribution.currency == disbursement.currency,
                    Contribution.paid_at < before,
                )
                .order_by(Contribution.paid_at, Contribution.id)
                .limit(BATCH)
            ).all()
            takes = []
            for contribution_id, left in batch:
                take = min(left, remaining)
                takes.append((contribution_id, take))
                remaining -= take
                if not remaining:
                    break
            _write_allocations(disbursement.id, takes)
            if len(batch) < BATCH:
                break
    disbursement.other_income = remaining


def _write_allocations(disbursement_id: int, takes: list[tuple[int, int]]) -> None:
    if not takes:
        return
    insert_allocations([(disbursement_id, cid, amount) for cid, amount in takes])
    # One statement for the whole batch: a CASE on the id instead of one UPDATE per row.
    taken = case(dict(takes), value=contributions.c.id)
    db.session.execute(
        update(contributions)
        .where(contributions.c.id.in_([cid for cid, _ in takes]))
        .values(allocated=contributions.c.allocated + taken)
    )
    expire_contributions()


# -- changes that can rewrite history ----------------------------------------------------------


def take_back(
    contribution: Contribution, *, refunded: int | None = None, disputed: int | None = None
) -> None:
    """A refund or dispute: the contribution has less to give; if that money was already
    spent, the ledger is rebuilt from the first disbursement that spent it."""
    lock()
    if refunded is not None:
        contribution.refunded = min(max(contribution.refunded, refunded), contribution.gross)
    if disputed is not None:
        contribution.disputed = min(max(contribution.disputed, disputed), contribution.gross)
    overflow = contribution.refunded + contribution.disputed - contribution.gross
    if overflow > 0:  # a refunded charge later disputed: the money cannot leave twice
        contribution.disputed -= overflow
    if contribution.allocated <= contribution.available:
        db.session.flush()
        return
    first = db.session.execute(
        select(Disbursement.paid_on, Disbursement.id)
        .join(Allocation, Allocation.disbursement_id == Disbursement.id)
        .where(Allocation.contribution_id == contribution.id)
        .order_by(Disbursement.paid_on, Disbursement.id)
        .limit(1)
    ).one()
    # The CHECK on `allocated` holds at every statement, so undo first, then shrink.
    rebuild(since=tuple(first))


def place_late_contribution(contribution: Contribution) -> None:
    """A payment recorded after disbursements dated on or after it may change who funded them.

    A disbursement is unchanged unless it spent something that comes after this contribution in
    its spending order, or needed other income; the first that did is rebuilt, with the rest.
    """
    if contribution.available == 0:
        return
    pool_matches = (
        true()
        if contribution.earmarked_case_id is None
        else Disbursement.case_id == contribution.earmarked_case_id
    )
    candidates = db.session.scalars(
        select(Disbursement)
        .where(
            Disbursement.paid_on >= contribution.paid_at.astimezone(UTC).date(),
            Disbursement.currency == contribution.currency,
            pool_matches,
        )
        .order_by(Disbursement.paid_on, Disbursement.id)
    ).all()
    for disbursement in candidates:
        if disbursement.other_income > 0 or _spent_after(disbursement, contribution):
            lock()
            rebuild(since=disbursement.ledger_key)
            return


def _spent_after(disbursement: Disbursement, contribution: Contribution) -> bool:
    newer = tuple_(Contribution.paid_at, Contribution.id) > tuple_(
        contribution.paid_at, contribution.id
    )
    if contribution.earmarked_case_id is None:
        after = and_(Contribution.earmarked_case_id.is_(None), newer)
    else:  # earmarked for this case: the whole general pool comes after it
        after = or_(Contribution.earmarked_case_id.is_(None), newer)
    return bool(
        db.session.scalar(
            select(func.count())
            .select_from(Allocation)
            .join(Contribution, Contribution.id == Allocation.contribution_id)
            .where(Allocation.disbursement_id == disbursement.id, after)
        )
    )
