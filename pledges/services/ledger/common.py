"""What every part of the ledger shares: its lock, its order, and SQL for what a contribution
can give."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, case, cast, func, select, text, type_coerce

from pledges.extensions import db
from pledges.models import Allocation, Contribution, Disbursement, LedgerFrontier

#: Serializes ledger writers on PostgreSQL, so two organizers recording at the same moment cannot
#: spend the same contribution twice. SQLite allows a single writer anyway.
LEDGER_LOCK_KEY = 7_366_001

_WITHDRAWN_NET = Contribution.net - Contribution.refunded - Contribution.disputed
#: What a contribution can give at all: its net less refunds and disputes, never below zero.
AVAILABLE = case((_WITHDRAWN_NET > 0, _WITHDRAWN_NET), else_=0)

# Bulk statements go through the tables, not the ORM: the ledger writes many rows at once and
# expires what the session holds afterwards.
contributions = Contribution.__table__
allocations = Allocation.__table__
disbursements = Disbursement.__table__
frontiers = LedgerFrontier.__table__


def lock() -> None:
    """Take the ledger lock for the rest of the transaction."""
    if dialect() == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_KEY})


def dialect() -> str:
    return db.session.get_bind().dialect.name


def cutoff(paid_on: date) -> datetime:
    """Contributions paid before this moment (UTC) may fund a disbursement paid on `paid_on`."""
    return datetime.combine(paid_on + timedelta(days=1), time.min, tzinfo=UTC)


def paid_day():  # noqa: ANN201
    """The UTC day a contribution was paid, in SQL: a contribution may fund a disbursement paid
    on that day or later. Reading a date is much cheaper than a timestamp for a million rows."""
    if dialect() == "postgresql":
        return cast(func.timezone("UTC", Contribution.paid_at), Date)
    return type_coerce(func.date(Contribution.paid_at), Date)  # SQLite keeps UTC as text


def given_sql(contribution_id):  # noqa: ANN001, ANN201
    """SQL: what a contribution has given to disbursements so far."""
    return (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.contribution_id == contribution_id)
        .scalar_subquery()
    )


def given(contribution_id: int) -> int:
    """What one contribution has given to disbursements so far."""
    return db.session.scalar(select(given_sql(contribution_id)))


def pool_key(currency: str, case_id: int | None) -> str:
    return f"{currency}:{'general' if case_id is None else case_id}"


def frontiers_from_allocations() -> dict[str, int]:
    """Each pool's frontier worked out from the allocations themselves: the newest contribution,
    in paid order, that has given anything."""
    ranked = (
        select(
            Contribution.id,
            Contribution.currency,
            Contribution.earmarked_case_id,
            func.row_number()
            .over(
                partition_by=(Contribution.currency, Contribution.earmarked_case_id),
                order_by=(Contribution.paid_at.desc(), Contribution.id.desc()),
            )
            .label("rank"),
        )
        .where(
            select(Allocation.amount).where(Allocation.contribution_id == Contribution.id).exists()
        )
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.id, ranked.c.currency, ranked.c.earmarked_case_id).where(ranked.c.rank == 1)
    )
    return {pool_key(currency, case_id): cid for cid, currency, case_id in rows}
