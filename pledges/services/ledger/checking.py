"""Checking the ledger: every invariant, naming the rows that break one."""

from sqlalchemy import and_, func, or_, select

from pledges.extensions import db
from pledges.models import Allocation, Contribution, Disbursement, LedgerFrontier
from pledges.services.ledger.common import AVAILABLE, frontiers_from_allocations, paid_day
from pledges.services.ledger.rebuilding import planned_changes, spendings

#: How many rows of one kind of problem to name before saying "and more".
SHOWN = 20


def check() -> list[str]:
    """Every invariant of the ledger, as a list of problems naming the rows; empty if sound."""
    db.session.flush()
    return [
        *_disbursements_add_up(),
        *_contributions_within_means(),
        *_frontiers_where_the_ledger_stopped(),
        *_allocations_in_pool_and_time(),
        *_same_as_a_rebuild(),
    ]


def _disbursements_add_up() -> list[str]:
    allocated = (
        select(Allocation.disbursement_id, func.sum(Allocation.amount).label("total"))
        .group_by(Allocation.disbursement_id)
        .subquery()
    )
    total = func.coalesce(allocated.c.total, 0)
    rows = db.session.execute(
        select(
            Disbursement.id,
            Disbursement.amount,
            Disbursement.other_income,
            total,
            Disbursement.in_ledger,
        )
        .outerjoin(allocated, allocated.c.disbursement_id == Disbursement.id)
        .where(
            or_(
                and_(
                    Disbursement.in_ledger, Disbursement.amount != total + Disbursement.other_income
                ),
                and_(~Disbursement.in_ledger, total != 0),
            )
        )
        .limit(SHOWN)
    )
    return [
        f"disbursement {row[0]}: allocations {row[3]} + other income {row[2]} != amount {row[1]}"
        if row[4]
        else f"disbursement {row[0]}: reversed or a correction, yet allocations of {row[3]}"
        for row in rows
    ]


def _contributions_within_means() -> list[str]:
    given = (
        select(Allocation.contribution_id, func.sum(Allocation.amount).label("total"))
        .group_by(Allocation.contribution_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Contribution.id, given.c.total, AVAILABLE)
        .join(given, given.c.contribution_id == Contribution.id)
        .where(given.c.total > AVAILABLE)
        .limit(SHOWN)
    )
    return [f"contribution {row[0]}: gave {row[1]} but can give {row[2]}" for row in rows]


def _frontiers_where_the_ledger_stopped() -> list[str]:
    expected = frontiers_from_allocations()
    stored = dict(
        db.session.execute(select(LedgerFrontier.pool, LedgerFrontier.contribution_id)).all()
    )
    return [
        f"ledger frontier of pool {pool}: stored {stored.get(pool)}, should be {expected.get(pool)}"
        for pool in sorted(set(expected) | set(stored))
        if expected.get(pool) != stored.get(pool)
    ][:SHOWN]


def _allocations_in_pool_and_time() -> list[str]:
    wrong_pool = or_(
        Contribution.currency != Disbursement.currency,
        and_(
            Contribution.earmarked_case_id.is_not(None),
            Contribution.earmarked_case_id != Disbursement.case_id,
        ),
    )
    too_late = paid_day() > Disbursement.paid_on
    rows = db.session.execute(
        select(Contribution.id, Disbursement.id, too_late)
        .select_from(Allocation)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(or_(wrong_pool, too_late))
        .limit(SHOWN)
    )
    return [
        f"allocation of contribution {contribution} to disbursement {disbursement}: "
        + ("paid after the disbursement's date" if late else "not in the disbursement's pool")
        for contribution, disbursement, late in rows
    ]


def _same_as_a_rebuild() -> list[str]:
    """Replay the whole ledger from scratch, in memory, and compare with the stored rows."""
    todo = spendings(None)
    if not todo:
        return []
    changes = planned_changes(todo, None)
    problems = [
        f"allocation of contribution {cid} to disbursement {did} should be {amount}"
        for did, cid, amount in changes.inserted + changes.resized
    ]
    problems += [
        f"allocation of contribution {cid} to disbursement {did} should not exist"
        for did, cid in changes.deleted
    ]
    problems += [
        f"disbursement {did}: other income should be {other}"
        for did, other in changes.other_income.items()
    ]
    return problems[:SHOWN]
