"""What every part of the ledger shares: its lock, its order, and SQL for what a contribution
can give."""

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, case, cast, func, text, type_coerce

from pledges.extensions import db
from pledges.models import Allocation, Contribution, Disbursement

#: Serializes ledger writers on PostgreSQL, so two organizers recording at the same moment cannot
#: spend the same contribution twice. SQLite allows a single writer anyway.
LEDGER_LOCK_KEY = 7_366_001

_WITHDRAWN_NET = Contribution.net - Contribution.refunded - Contribution.disputed
#: What a contribution can give at all: its net less refunds and disputes, never below zero.
AVAILABLE = case((_WITHDRAWN_NET > 0, _WITHDRAWN_NET), else_=0)
#: What a contribution can still give, where it has anything left.
LEFT = _WITHDRAWN_NET - Contribution.allocated
UNSPENT = Contribution.allocated < _WITHDRAWN_NET

# Bulk statements go through the tables, not the ORM: the ledger writes many rows at once and
# expires what the session holds afterwards.
contributions = Contribution.__table__
allocations = Allocation.__table__
disbursements = Disbursement.__table__


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


def expire_contributions() -> None:
    """Contributions the session holds have a stale `allocated` after a bulk write."""
    for held in list(db.session.identity_map.values()):
        if isinstance(held, Contribution):
            db.session.expire(held, ["allocated"])
