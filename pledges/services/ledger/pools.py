"""What a pool still holds, read from where the ledger stopped in it."""

from datetime import datetime

from sqlalchemy import func, select, tuple_

from pledges.extensions import db
from pledges.models import Contribution, LedgerFrontier
from pledges.services.ledger.common import AVAILABLE, given_sql, pool_key


def remaining(currency: str, case_id: int | None, before: datetime | None = None) -> int:
    """What contributions in one pool (paid before `before`, if given) have not given yet.

    FIFO spends a pool as a prefix in paid order: every contribution before the pool's frontier
    has given all it can, and every one after it nothing. So only the frontier and what follows
    it are read, not the pool's whole past.
    """
    in_pool = (
        Contribution.earmarked_case_id.is_(None)
        if case_id is None
        else Contribution.earmarked_case_id == case_id
    )
    conditions = [in_pool, Contribution.currency == currency]
    if before is not None:
        conditions.append(Contribution.paid_at < before)
    stopped = db.session.execute(
        select(Contribution.id, Contribution.paid_at, AVAILABLE - given_sql(Contribution.id))
        .join(LedgerFrontier, LedgerFrontier.contribution_id == Contribution.id)
        .where(LedgerFrontier.pool == pool_key(currency, case_id))
    ).first()
    held = 0
    if stopped is not None:
        frontier_id, frontier_paid_at, left = stopped
        if before is None or frontier_paid_at < before:
            held += max(left, 0)
        conditions.append(
            tuple_(Contribution.paid_at, Contribution.id) > tuple_(frontier_paid_at, frontier_id)
        )
    return held + db.session.scalar(
        select(func.coalesce(func.sum(AVAILABLE), 0)).where(*conditions)
    )
