"""Work queued in a table and taken by workers: the outbox's emails, Stripe's events.

A worker claims a batch of due rows by moving their next attempt a lease ahead, committed
before any of the work is done: another worker skips them, on PostgreSQL (SKIP LOCKED) or on
SQLite (no row locks at all: one writer at a time), and a worker that dies mid-batch leaves
what it had not done to be taken again once the lease runs out. A worker that stops on purpose
(a restart) gives back what it had not started, so nothing waits for the lease.
"""

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.exc import OperationalError

from pledges.extensions import begin_writing, db

log = logging.getLogger(__name__)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(2 ** (attempts - 1), 60))


def claim_due(
    model: Any, due: tuple[ColumnElement[bool], ...], *, lease_until: datetime, size: int
) -> list[Any]:
    """The ids of up to `size` rows of `model` matching `due`, soonest `next_attempt_at` first,
    now this worker's until `lease_until`; empty when there are none, or when SQLite refuses
    a second worker claiming at the same moment (that one stops for now)."""
    try:
        begin_writing()  # on SQLite, where the refusal comes when the lock is held too long
        candidates = db.session.scalars(
            select(model.id)
            .where(*due)
            .order_by(model.next_attempt_at, model.id)
            .limit(size)
            .with_for_update(skip_locked=True)
        ).all()
        if not candidates:
            db.session.rollback()
            return []
        claimed = db.session.scalars(
            update(model)
            .where(model.id.in_(candidates), *due)
            .values(next_attempt_at=lease_until)
            .returning(model.id)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        return []
    return sorted(claimed)


def release(
    model: Any,
    ids: list[Any],
    *,
    still: tuple[ColumnElement[bool], ...],
    lease_until: datetime,
    due_at: datetime,
) -> None:
    """Give claimed rows back, due at `due_at`, if they are still waiting (`still`) and still
    this worker's (claimed until `lease_until`: once a lease ran out, another worker may hold
    them): what a worker took but will not do now, because it is stopping or what it needs is
    unreachable. If the database refuses (SQLite busy), they wait for the lease instead."""
    if not ids:
        return
    try:
        begin_writing()
        db.session.execute(
            update(model)
            .where(model.id.in_(ids), model.next_attempt_at == lease_until, *still)
            .values(next_attempt_at=due_at)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    except OperationalError:
        db.session.rollback()
        log.warning("could not give back %d claimed %s; they wait for their lease", len(ids),
                    model.__tablename__)  # fmt: skip
