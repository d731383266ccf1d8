"""Rebuilding the ledger: FIFO as one ordered pass over disbursements and contributions, then
writing only the rows that differ from what is stored."""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import and_, bindparam, delete, func, insert, select, tuple_, update

from pledges.extensions import db
from pledges.models import Contribution, Disbursement, LedgerFrontier
from pledges.services.ledger.common import (
    AVAILABLE,
    allocations,
    dialect,
    disbursements,
    frontiers_from_allocations,
    lock,
    paid_day,
    pool_key,
)

Progress = Callable[[int, int], None]
LedgerKey = tuple[date, int]


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
class Spent:
    """What the replay decided for one disbursement."""

    spending: Spending
    #: contribution id -> amount, in spending order.
    takes: dict[int, int]
    other_income: int


def replay(
    spendings: Iterable[Spending],
    contributions_in_order: Iterator[tuple],
    frontiers: dict[str, int] | None = None,
) -> Iterator[Spent]:
    """FIFO as one ordered pass. Disbursements come in ledger order; contributions, as
    (id, earmark, currency, paid day, what it can give), in the order they were paid. Pure: it
    reads only what it is given, and holds only contributions with something left. If given
    `frontiers`, it notes there the last contribution each pool gave from."""
    pools: dict[tuple[str, int | None], deque[list[int]]] = {}
    frontiers = {} if frontiers is None else frontiers
    waiting = next(contributions_in_order, None)
    for spending in spendings:
        while waiting is not None and waiting[3] <= spending.paid_on:
            contribution_id, earmark, currency, _day, left = waiting
            if left > 0:
                pools.setdefault((currency, earmark), deque()).append([contribution_id, left])
            waiting = next(contributions_in_order, None)
        remaining, takes = spending.amount, {}
        for key in ((spending.currency, spending.case_id), (spending.currency, None)):
            queue = pools.get(key)
            while remaining and queue:
                entry = queue[0]
                take = min(entry[1], remaining)
                takes[entry[0]] = take
                frontiers[pool_key(*key)] = entry[0]
                entry[1] -= take
                remaining -= take
                if not entry[1]:
                    queue.popleft()
        yield Spent(spending, takes, remaining)


def spendings(since: LedgerKey | None = None) -> list[Spending]:
    query = (
        select(
            Disbursement.id,
            Disbursement.case_id,
            Disbursement.currency,
            Disbursement.amount,
            Disbursement.paid_on,
            Disbursement.other_income,
        )
        .where(Disbursement.in_ledger)
        .order_by(Disbursement.paid_on, Disbursement.id)
    )
    if since is not None:
        query = query.where(tuple_(Disbursement.paid_on, Disbursement.id) >= tuple_(*since))
    return [Spending(*row) for row in db.session.execute(query)]


def _affected_ids(since: LedgerKey | None):  # noqa: ANN202
    query = select(disbursements.c.id).where(disbursements.c.in_ledger)
    if since is not None:
        query = query.where(tuple_(disbursements.c.paid_on, disbursements.c.id) >= tuple_(*since))
    return query


def contributions_at(since: LedgerKey | None, last_day: date) -> Iterator[tuple]:
    """Contributions in paid order with what each could give at `since`: its available amount,
    less what disbursements before `since` took from it."""
    left = AVAILABLE
    query = select(Contribution.id)
    if since is not None:
        kept = (
            select(allocations.c.contribution_id, func.sum(allocations.c.amount).label("total"))
            .where(allocations.c.disbursement_id.not_in(_affected_ids(since)))
            .group_by(allocations.c.contribution_id)
            .subquery()
        )
        left = AVAILABLE - func.coalesce(kept.c.total, 0)
        query = query.outerjoin(kept, kept.c.contribution_id == Contribution.id)
    day = paid_day()
    rows = db.session.execute(
        query.add_columns(Contribution.earmarked_case_id, Contribution.currency, day, left)
        .where(day <= last_day, left > 0)
        .order_by(Contribution.paid_at, Contribution.id)
        .execution_options(yield_per=20_000)
    )
    return (tuple(row) for row in rows)


def _stored(since: LedgerKey | None) -> Iterator[tuple[int, dict[int, int]]]:
    """The stored allocations of each affected disbursement, in ledger order."""
    rows = db.session.execute(
        select(allocations.c.disbursement_id, allocations.c.contribution_id, allocations.c.amount)
        .join(disbursements, disbursements.c.id == allocations.c.disbursement_id)
        .where(allocations.c.disbursement_id.in_(_affected_ids(since)))
        .order_by(disbursements.c.paid_on, disbursements.c.id)
        .execution_options(yield_per=20_000)
    )
    current, takes = None, {}
    for disbursement_id, contribution_id, amount in rows:
        if disbursement_id != current:
            if current is not None:
                yield current, takes
            current, takes = disbursement_id, {}
        takes[contribution_id] = amount
    if current is not None:
        yield current, takes


@dataclass
class Changes:
    inserted: list[tuple[int, int, int]]
    deleted: list[tuple[int, int]]
    resized: list[tuple[int, int, int]]
    other_income: dict[int, int]
    #: pool -> last contribution given from, as far as the replay went.
    frontiers: dict[str, int] = field(default_factory=dict)


def _compare(spent: Iterator[Spent], stored: Iterator[tuple[int, dict[int, int]]]) -> Changes:
    changes = Changes([], [], [], {})
    waiting = next(stored, None)
    for decided in spent:
        old: dict[int, int] = {}
        if waiting is not None and waiting[0] == decided.spending.id:
            old = waiting[1]
            waiting = next(stored, None)
        did = decided.spending.id
        for contribution_id, amount in decided.takes.items():
            before = old.pop(contribution_id, None)
            if before is None:
                changes.inserted.append((did, contribution_id, amount))
            elif before != amount:
                changes.resized.append((did, contribution_id, amount))
        changes.deleted.extend((did, contribution_id) for contribution_id in old)
        if decided.other_income != decided.spending.other_income:
            changes.other_income[did] = decided.other_income
    return changes


@dataclass
class RebuildReport:
    disbursements: int
    allocations_written: int
    allocations_removed: int


def planned_changes(
    todo: list[Spending],
    since: LedgerKey | None,
    watch: Callable[[Iterator[Spent]], Iterator[Spent]] = lambda items: items,
) -> Changes:
    """What a rebuild from `since` would change, written nowhere."""
    last_day = max(spending.paid_on for spending in todo)
    frontiers: dict[str, int] = {}
    spent = replay(todo, contributions_at(since, last_day), frontiers)
    changes = _compare(watch(spent), _stored(since))
    changes.frontiers = frontiers
    return changes


def rebuild(since: LedgerKey | None = None, progress: Progress | None = None) -> RebuildReport:
    """Make the allocations of every disbursement from `since` (ledger order) on, or of all,
    exactly what FIFO gives; rows that are already right are left alone."""
    lock()
    db.session.flush()
    todo = spendings(since)
    if not todo:
        if since is not None:  # a reversal of the last disbursement moves where pools stopped
            _set_frontiers(frontiers_from_allocations())
        return RebuildReport(0, 0, 0)

    def counted(items: Iterator[Spent]) -> Iterator[Spent]:
        for done, item in enumerate(items, start=1):
            if progress and (done % 50 == 0 or done == len(todo)):
                progress(done, len(todo))
            yield item

    changes = planned_changes(todo, since, counted)
    _write(changes)
    _set_frontiers(changes.frontiers if since is None else frontiers_from_allocations())
    db.session.flush()
    db.session.expire_all()  # bulk statements went around the objects the session holds
    return RebuildReport(
        disbursements=len(todo),
        allocations_written=len(changes.inserted) + len(changes.resized),
        allocations_removed=len(changes.deleted),
    )


def _write(changes: Changes) -> None:
    if changes.deleted:
        db.session.execute(
            delete(allocations).where(
                and_(
                    allocations.c.disbursement_id == bindparam("did"),
                    allocations.c.contribution_id == bindparam("cid"),
                )
            ),
            [{"did": did, "cid": cid} for did, cid in changes.deleted],
        )
    if changes.resized:
        db.session.execute(
            update(allocations)
            .where(
                and_(
                    allocations.c.disbursement_id == bindparam("did"),
                    allocations.c.contribution_id == bindparam("cid"),
                )
            )
            .values(amount=bindparam("new_amount")),
            [
                {"did": did, "cid": cid, "new_amount": amount}
                for did, cid, amount in changes.resized
            ],
        )
    insert_allocations(changes.inserted)
    if changes.other_income:
        db.session.execute(
            update(disbursements)
            .where(disbursements.c.id == bindparam("did"))
            .values(other_income=bindparam("other")),
            [{"did": did, "other": other} for did, other in changes.other_income.items()],
        )


def insert_allocations(rows: list[tuple[int, int, int]]) -> None:
    """Many rows at once: COPY on PostgreSQL, a batched INSERT elsewhere."""
    if not rows:
        return
    if dialect() == "postgresql" and len(rows) > 50:
        raw = db.session.connection().connection.driver_connection
        statement = "COPY allocations (disbursement_id, contribution_id, amount) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
        return
    columns = ("disbursement_id", "contribution_id", "amount")
    db.session.execute(insert(allocations), [dict(zip(columns, row, strict=True)) for row in rows])


def _set_frontiers(frontiers: dict[str, int]) -> None:
    """Replace every pool's frontier, writing only those that moved."""
    stored = dict(
        db.session.execute(select(LedgerFrontier.pool, LedgerFrontier.contribution_id)).all()
    )
    gone = set(stored) - set(frontiers)
    if gone:
        db.session.execute(delete(LedgerFrontier).where(LedgerFrontier.pool.in_(gone)))
    for pool, contribution_id in frontiers.items():
        if stored.get(pool) != contribution_id:
            db.session.merge(LedgerFrontier(pool=pool, contribution_id=contribution_id))
