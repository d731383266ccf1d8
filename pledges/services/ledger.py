"""The attribution ledger: which contributions paid for which disbursement, to the cent.

A disbursement spends, in ledger order (date paid, then id), from the contributions paid on or
before its date: first those earmarked for its case, then the general pool, oldest first, each
giving at most what it has left. What they cannot cover is funded from other income.

Every change keeps one promise: the rows are exactly those a full rebuild would write. Recording
the newest disbursement spends directly; anything that could change an earlier result (a
back-dated disbursement, a refund of money already spent, a payment recorded late) rebuilds the
ledger from the first disbursement it touches.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import (
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    true,
    tuple_,
    update,
)

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement

#: Serializes ledger writers on PostgreSQL, so two organizers recording at the same moment cannot
#: spend the same contribution twice. SQLite allows a single writer anyway.
LEDGER_LOCK_KEY = 7_366_001

#: What a contribution can give at all: its net less refunds and disputes, never below zero.
_WITHDRAWN_NET = Contribution.net - Contribution.refunded - Contribution.disputed
AVAILABLE = case((_WITHDRAWN_NET > 0, _WITHDRAWN_NET), else_=0)
#: What a contribution can still give, in SQL.
LEFT = Contribution.net - Contribution.refunded - Contribution.disputed - Contribution.allocated
UNSPENT = Contribution.allocated < Contribution.net - Contribution.refunded - Contribution.disputed

BATCH = 200

# Bulk statements go through the tables, not the ORM: the ledger writes many rows at once and
# expires what the session holds afterwards.
contributions = Contribution.__table__
allocations = Allocation.__table__
disbursements = Disbursement.__table__

Progress = Callable[[int, int], None]


def lock() -> None:
    """Take the ledger lock for the rest of the transaction."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK_KEY})


def cutoff(paid_on: date) -> datetime:
    """Contributions paid before this moment (UTC) may fund a disbursement paid on `paid_on`."""
    return datetime.combine(paid_on + timedelta(days=1), time.min, tzinfo=UTC)


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
                takes.append({"contribution_id": contribution_id, "amount": take})
                remaining -= take
                if not remaining:
                    break
            _write_allocations(disbursement.id, takes)
            if len(batch) < BATCH:
                break
    disbursement.other_income = remaining


def _write_allocations(disbursement_id: int, takes: list[dict]) -> None:
    if not takes:
        return
    db.session.execute(
        insert(allocations), [{"disbursement_id": disbursement_id, **take} for take in takes]
    )
    db.session.execute(
        update(contributions)
        .where(contributions.c.id == bindparam("cid"))
        .values(allocated=contributions.c.allocated + bindparam("take")),
        [{"cid": take["contribution_id"], "take": take["amount"]} for take in takes],
    )
    _expire_contributions()


def _expire_contributions() -> None:
    """Contributions the session holds have a stale `allocated` after a bulk write."""
    for held in list(db.session.identity_map.values()):
        if isinstance(held, Contribution):
            db.session.expire(held, ["allocated"])


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


# -- rebuilding --------------------------------------------------------------------------------


@dataclass
class Spending:
    """One disbursement as the replay sees it."""

    id: int
    case_id: int
    currency: str
    amount: int
    paid_on: date
    other_income: int = 0


@dataclass
class ReplayResult:
    allocations: list[tuple[int, int, int]] = field(default_factory=list)
    other_income: dict[int, int] = field(default_factory=dict)


def replay(
    disbursements: Iterable[Spending],
    contributions: Iterator[tuple[int, int | None, str, datetime, int]],
    progress: Progress | None = None,
    total: int = 0,
) -> ReplayResult:
    """FIFO as one ordered pass: disbursements in ledger order against contributions in paid
    order, each (id, earmark, currency, paid_at, left). Pure: it only reads what it is given."""
    result = ReplayResult()
    pools: dict[tuple[str, int | None], deque[list[int]]] = {}
    waiting = next(contributions, None)
    for done, spending in enumerate(disbursements, start=1):
        before = cutoff(spending.paid_on)
        while waiting is not None and waiting[3] < before:
            contribution_id, earmark, currency, _paid_at, left = waiting
            if left > 0:
                pools.setdefault((currency, earmark), deque()).append([contribution_id, left])
            waiting = next(contributions, None)
        remaining = spending.amount
        for key in ((spending.currency, spending.case_id), (spending.currency, None)):
            queue = pools.get(key)
            while remaining and queue:
                entry = queue[0]
                take = min(entry[1], remaining)
                result.allocations.append((spending.id, entry[0], take))
                entry[1] -= take
                remaining -= take
                if not entry[1]:
                    queue.popleft()
        result.other_income[spending.id] = remaining
        if progress:
            progress(done, total)
    return result


def _affected(since: tuple[date, int] | None):  # noqa: ANN202
    query = select(Disbursement.id)
    if since is not None:
        query = query.where(tuple_(Disbursement.paid_on, Disbursement.id) >= tuple_(*since))
    return query


def _spendings(since: tuple[date, int] | None) -> list[Spending]:
    query = select(
        Disbursement.id,
        Disbursement.case_id,
        Disbursement.currency,
        Disbursement.amount,
        Disbursement.paid_on,
        Disbursement.other_income,
    ).order_by(Disbursement.paid_on, Disbursement.id)
    if since is not None:
        query = query.where(tuple_(Disbursement.paid_on, Disbursement.id) >= tuple_(*since))
    return [Spending(*row) for row in db.session.execute(query)]


def _unspent_stream(last_cutoff: datetime) -> Iterator[tuple]:
    rows = db.session.execute(
        select(
            Contribution.id,
            Contribution.earmarked_case_id,
            Contribution.currency,
            Contribution.paid_at,
            LEFT,
        )
        .where(UNSPENT, Contribution.paid_at < last_cutoff)
        .order_by(Contribution.paid_at, Contribution.id)
        .execution_options(yield_per=10_000)
    )
    return (tuple(row) for row in rows)


@dataclass
class RebuildReport:
    disbursements: int
    allocations: int


def rebuild(
    since: tuple[date, int] | None = None, progress: Progress | None = None
) -> RebuildReport:
    """Rewrite the allocations of every disbursement from `since` (ledger order) on, or all."""
    lock()
    db.session.flush()
    affected = _affected(since)
    if since is None:
        db.session.execute(delete(allocations))
        db.session.execute(
            update(contributions).where(contributions.c.allocated != 0).values(allocated=0)
        )
    else:
        _add_spent(affected, sign=-1)
        db.session.execute(delete(allocations).where(allocations.c.disbursement_id.in_(affected)))
    spendings = _spendings(since)
    result = ReplayResult()
    if spendings:
        stream = _unspent_stream(cutoff(max(s.paid_on for s in spendings)))
        result = replay(spendings, stream, progress, len(spendings))
        _store(result, affected)
    db.session.expire_all()
    return RebuildReport(disbursements=len(spendings), allocations=len(result.allocations))


def _add_spent(affected, sign: int) -> None:  # noqa: ANN001
    """Add (or, with sign -1, take away) the affected disbursements' allocations to `allocated`."""
    spent = (
        select(allocations.c.contribution_id, func.sum(allocations.c.amount).label("total"))
        .where(allocations.c.disbursement_id.in_(affected))
        .group_by(allocations.c.contribution_id)
        .subquery()
    )
    db.session.execute(
        update(contributions)
        .where(contributions.c.id == spent.c.contribution_id)
        .values(allocated=contributions.c.allocated + sign * spent.c.total)
    )


def _store(result: ReplayResult, affected) -> None:  # noqa: ANN001
    columns = ("disbursement_id", "contribution_id", "amount")
    for start in range(0, len(result.allocations), 50_000):
        chunk = result.allocations[start : start + 50_000]
        db.session.execute(
            insert(allocations), [dict(zip(columns, row, strict=True)) for row in chunk]
        )
    _add_spent(affected, sign=1)
    db.session.execute(
        update(disbursements)
        .where(disbursements.c.id == bindparam("did"))
        .values(other_income=bindparam("other")),
        [{"did": key, "other": value} for key, value in result.other_income.items()],
    )


# -- checking ----------------------------------------------------------------------------------


def check() -> list[str]:
    """Every invariant of the ledger, as a list of problems naming the rows; empty if sound."""
    db.session.flush()
    problems: list[str] = []
    allocated = (
        select(Allocation.disbursement_id, func.sum(Allocation.amount).label("total"))
        .group_by(Allocation.disbursement_id)
        .subquery()
    )
    for row in db.session.execute(
        select(Disbursement.id, Disbursement.amount, Disbursement.other_income, allocated.c.total)
        .outerjoin(allocated, allocated.c.disbursement_id == Disbursement.id)
        .where(
            Disbursement.amount != func.coalesce(allocated.c.total, 0) + Disbursement.other_income
        )
    ):
        problems.append(
            f"disbursement {row.id}: allocations {row.total or 0} + other income "
            f"{row.other_income} != amount {row.amount}"
        )
    given = (
        select(Allocation.contribution_id, func.sum(Allocation.amount).label("total"))
        .group_by(Allocation.contribution_id)
        .subquery()
    )
    total = func.coalesce(given.c.total, 0)
    for row in db.session.execute(
        select(
            Contribution.id,
            Contribution.allocated,
            total.label("total"),
            AVAILABLE.label("available"),
        )
        .outerjoin(given, given.c.contribution_id == Contribution.id)
        .where(or_(Contribution.allocated != total, total > AVAILABLE))
    ):
        problems.append(
            f"contribution {row.id}: allocations {row.total}, recorded as {row.allocated}, "
            f"can give {row.available}"
        )
    for row in db.session.execute(
        select(
            Allocation.id,
            Contribution.id.label("contribution"),
            Disbursement.id.label("disbursement"),
        )
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .where(
            or_(
                Contribution.currency != Disbursement.currency,
                and_(
                    Contribution.earmarked_case_id.is_not(None),
                    Contribution.earmarked_case_id != Disbursement.case_id,
                ),
            )
        )
    ):
        problems.append(
            f"allocation {row.id}: contribution {row.contribution} is not in the pool of "
            f"disbursement {row.disbursement}"
        )
    for row in db.session.execute(
        select(Allocation.id, Contribution.paid_at, Disbursement.paid_on)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .join(Disbursement, Disbursement.id == Allocation.disbursement_id)
        .execution_options(yield_per=10_000)
    ):
        if row.paid_at >= cutoff(row.paid_on):
            problems.append(f"allocation {row.id}: contribution paid after its disbursement's date")
    problems.extend(_differences_from_replay())
    return problems


def _differences_from_replay(limit: int = 20) -> list[str]:
    """Compare the stored rows with a replay from scratch, written nowhere."""
    spendings = _spendings(None)
    if not spendings:
        return []
    stream = db.session.execute(
        select(
            Contribution.id,
            Contribution.earmarked_case_id,
            Contribution.currency,
            Contribution.paid_at,
            AVAILABLE,
        )  # fmt: skip
        .where(Contribution.paid_at < cutoff(max(s.paid_on for s in spendings)))
        .order_by(Contribution.paid_at, Contribution.id)
        .execution_options(yield_per=10_000)
    )
    expected = replay(spendings, (tuple(row) for row in stream))
    stored = db.session.execute(
        select(Allocation.disbursement_id, Allocation.contribution_id, Allocation.amount)
    )
    difference = set(expected.allocations) ^ {tuple(row) for row in stored}
    problems = [
        f"allocation (disbursement, contribution, amount) {row} differs from a rebuild"
        for row in sorted(difference)[:limit]
    ]
    for spending in spendings:
        if expected.other_income[spending.id] != spending.other_income:
            problems.append(f"disbursement {spending.id}: other income differs from a rebuild")
    return problems
