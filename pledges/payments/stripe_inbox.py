"""Stripe's webhook events, received at once and handled by a worker.

The webhook only checks the signature and writes the event down (its id unique: a replay is a
no-op), so Stripe gets its answer in milliseconds whatever our own calls back to Stripe's API
cost, and a burst of renewals on the first of the month does not hold the web workers. A
worker (`flask pledges handle-stripe-events`) then applies each event with the handlers of
`stripe_events` and marks it handled in the same transaction; one that fails (Stripe's API
down, a bug) is tried again with back-off, and several workers may run at once.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from pledges.extensions import db, insert_new
from pledges.models import StripeEvent
from pledges.models.types import utcnow
from pledges.payments.stripe_events import HANDLERS, from_timestamp
from pledges.payments.stripe_gateway import StripeGateway
from pledges.services.claims import claim_due, release, retry_delay

log = logging.getLogger(__name__)

#: How long claimed events are left to the worker that claimed them: what one dies holding
#: is taken again after this. The event being handled is also locked (FOR UPDATE), so even a
#: handler slower than this, Stripe's API being slow, is never joined by a second worker.
CLAIM_LEASE = timedelta(minutes=5)
CLAIM_BATCH = 20
_UNHANDLED = StripeEvent.handled_at.is_(None)


def receive(event: dict[str, Any]) -> str:
    """Write a verified event down in the caller's transaction, to be handled by a worker.

    Returns "queued", "ignored" (a type we do not act on: kept as seen, nothing to do) or
    "duplicate" (a replay, or the same event arriving twice at once: the second waits for the
    first's insert, then finds it).
    """
    now = utcnow()
    handled = event["type"] in HANDLERS
    row = {
        "id": event["id"],
        "type": event["type"],
        "created_at": from_timestamp(event["created"]),
        "received_at": now,
        "payload": json.dumps(event["data"]["object"]) if handled else None,
        "handled_at": None if handled else now,
        "attempts": 0,
        "next_attempt_at": now,
    }
    if not insert_new(StripeEvent.__table__, [row], "id"):
        return "duplicate"
    return "queued" if handled else "ignored"


@dataclass
class HandlingReport:
    handled: int = 0
    retrying: int = 0
    #: "evt_…: KindOfError", one per failed attempt (the details are in the log).
    errors: list[str] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.handled + self.retrying


def handle_due(
    gateway: StripeGateway,
    now: datetime | None = None,
    limit: int = 1000,
    stopping: Callable[[], bool] = lambda: False,
) -> HandlingReport:
    """Handle the events that are due, each in its own transaction, up to `limit`. Once
    `stopping()`, the event in hand is finished and the rest of the batch given back."""
    report = HandlingReport()
    while report.seen < limit and not stopping():
        moment = now or utcnow()
        due = (_UNHANDLED, StripeEvent.next_attempt_at <= moment)
        batch = claim_due(
            StripeEvent,
            due,
            lease_until=moment + CLAIM_LEASE,
            size=min(CLAIM_BATCH, limit - report.seen),
        )
        for position, event_id in enumerate(batch):
            if stopping():  # a restart: the rest is due again at once, for the next worker
                release(StripeEvent, batch[position:], still=(_UNHANDLED,),
                        lease_until=moment + CLAIM_LEASE, due_at=moment)  # fmt: skip
                break
            handle_one(event_id, gateway, report)
        if not batch:
            break
    return report


def handle_one(event_id: str, gateway: StripeGateway, report: HandlingReport) -> None:
    """Apply one event and mark it handled in the same transaction; if it fails, nothing of it
    is kept and it is tried again later."""
    db.session.rollback()  # a fresh transaction, and nothing stale from the last event
    # Locked: a worker whose lease ran out while this one still works on it waits, then skips.
    row = db.session.get(StripeEvent, event_id, with_for_update=True)
    if row is None or row.handled_at is not None:
        return
    try:
        HANDLERS[row.type](json.loads(row.payload or "{}"), gateway)
        row.handled_at = utcnow()
        row.attempts += 1
        row.payload = None  # the body carries donor details: dropped once applied
        row.last_error = None
        db.session.commit()
    except Exception as error:  # noqa: BLE001 - one event's trouble does not stop the rest
        db.session.rollback()
        log.exception("stripe event %s failed; it will be tried again", event_id)
        _retry_later(event_id, type(error).__name__)
        report.retrying += 1
        report.errors.append(f"{event_id}: {type(error).__name__}")
        return
    report.handled += 1


def _retry_later(event_id: str, error: str) -> None:
    try:
        row = db.session.get(StripeEvent, event_id)
        if row is None or row.handled_at is not None:
            return
        row.attempts += 1
        row.next_attempt_at = utcnow() + retry_delay(row.attempts)
        row.last_error = error[:100]
        db.session.commit()
    except OperationalError:  # the database is gone too: its lease brings it back later
        db.session.rollback()
        log.warning("stripe event %s: could not note the failed attempt", event_id)


def waiting(older_than: timedelta) -> int:
    """How many events have waited longer than this: a worker that is not running, or an event
    that keeps failing."""
    cutoff = utcnow() - older_than
    return db.session.scalar(
        select(func.count())
        .select_from(StripeEvent)
        .where(StripeEvent.handled_at.is_(None), StripeEvent.received_at < cutoff)
    )
