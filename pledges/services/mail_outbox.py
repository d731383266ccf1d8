"""The transactional outbox: email is queued with its cause and sent by a separate worker,
at least once and never twice for the same dedupe key."""

from __future__ import annotations

import logging
import smtplib
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, select, update

from pledges.extensions import add_unless_taken, begin_writing, db, insert_new
from pledges.models import OutboxEmail, OutboxStatus
from pledges.models.types import utcnow
from pledges.redaction import redact
from pledges.services import emails
from pledges.services.claims import claim_due, release, retry_delay
from pledges.services.supporters import normalize_email
from pledges.smtp import Envelope, SmtpSession

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
#: How long a claimed email is left to the worker that claimed it. A batch still sending after
#: half of it (a slow mail server) gives back the rest, so no other worker ever sends the same.
CLAIM_LEASE = timedelta(minutes=10)


def enqueue(
    kind: str, *, recipient: str, dedupe_key: str, context: dict[str, Any] | None = None
) -> OutboxEmail | None:
    """Queue an email in the caller's transaction; a key already queued is left alone."""
    if kind not in emails.RENDERERS:
        raise ValueError(f"unknown email kind {kind!r}")
    if not recipient:
        return None  # an account deleted since the event that wanted to tell them (see erase)
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "localhost"
    row = OutboxEmail(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=recipient,
        context=context or {},
        message_id=f"<{uuid.uuid4().hex}@{domain}>",
    )
    # The unique key decides: a key queued before, or by a transaction at the same moment,
    # leaves this one going on without the email instead of failing whole.
    return add_unless_taken(lambda: row)


def addressed_to(recipient: str, *where: ColumnElement[bool]) -> list[OutboxEmail]:
    """The emails (of those `where` picks) that still say they go to this address. Recipients
    are encrypted, so each is read: keep `where` narrow."""
    address = normalize_email(recipient)
    rows = select(OutboxEmail).where(OutboxEmail.recipient.is_not(None), *where)
    return [row for row in db.session.scalars(rows) if normalize_email(row.recipient) == address]


def drop_queued(kinds: Iterable[str], recipient: str) -> None:
    """Emails of these kinds still waiting for this address go unsent: a sign-in link queued
    before the account signed out everywhere, an invitation sent again."""
    waiting = (OutboxEmail.kind.in_(list(kinds)), OutboxEmail.status == OutboxStatus.QUEUED)
    for row in addressed_to(recipient, *waiting):
        row.status = OutboxStatus.DROPPED
        row.recipient = None  # as for every email that ends: nothing kept of where


def enqueue_many(kind: str, rows: list[tuple[str, str, dict[str, Any]]]) -> int:
    """Queue many emails at once, (recipient, dedupe key, context) each, in one statement that
    skips keys queued before: the monthly digest for a whole fund is one round trip."""
    if kind not in emails.RENDERERS:
        raise ValueError(f"unknown email kind {kind!r}")
    if not rows:
        return 0
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "localhost"
    values = [
        {
            "dedupe_key": key,
            "kind": kind,
            "recipient": recipient,
            "context": context,
            "message_id": f"<{uuid.uuid4().hex}@{domain}>",
            "status": OutboxStatus.QUEUED,
            "attempts": 0,
            "next_attempt_at": utcnow(),
            "created_at": utcnow(),
        }
        for recipient, key, context in rows
    ]
    return insert_new(OutboxEmail.__table__, values, "dedupe_key")


def any_queued(dedupe_keys: Iterable[str]) -> bool:
    """Whether any of these keys was ever queued (sent emails stay in the outbox)."""
    keys = list(dedupe_keys)
    return (
        bool(keys)
        and db.session.scalar(
            select(OutboxEmail.id).where(OutboxEmail.dedupe_key.in_(keys)).limit(1)
        )
        is not None
    )


@dataclass
class DeliveryReport:
    sent: int = 0
    dropped: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.dropped + self.retrying + self.failed


#: Emails claimed together: one commit claims them, then each is sent and marked on its own.
CLAIM_BATCH = 50


_QUEUED = (OutboxEmail.status == OutboxStatus.QUEUED,)


def _claim_batch(now: datetime, size: int) -> list[int]:
    """Take due emails for this worker alone, committed before anything is sent."""
    due = (*_QUEUED, OutboxEmail.next_attempt_at <= now)
    return claim_due(OutboxEmail, due, lease_until=now + CLAIM_LEASE, size=size)


def _envelope(row: OutboxEmail, rendered: emails.RenderedEmail) -> Envelope:
    config = current_app.config
    return Envelope(
        sender=(config["FUND_NAME"], config["MAIL_DEFAULT_SENDER"]),
        recipient=row.recipient,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        message_id=row.message_id,
        headers=rendered.headers,
    )


def deliver_due(
    now: datetime | None = None, limit: int = 100, stopping: Callable[[], bool] = lambda: False
) -> DeliveryReport:
    """Send what is due, one row per transaction, so a crash loses nothing and repeats little;
    over one SMTP connection for the whole batch, opened again only after an error. Once
    `stopping()`, the email being sent is finished and the rest of the batch given back."""
    with SmtpSession(current_app.config) as smtp:
        return _deliver(smtp, now, limit, stopping)


def _deliver(
    smtp: SmtpSession, now: datetime | None, limit: int, stopping: Callable[[], bool]
) -> DeliveryReport:
    report = DeliveryReport()
    while report.handled < limit and not stopping():
        moment = now or utcnow()  # each batch's lease runs from its own claim
        batch = _claim_batch(moment, min(CLAIM_BATCH, limit - report.handled))
        if not batch:
            break
        _deliver_batch(smtp, batch, moment, report, stopping)
    return report


def _deliver_batch(
    smtp: SmtpSession, ids: list[int], now: datetime, report: DeliveryReport,
    stopping: Callable[[], bool],
) -> None:  # fmt: skip
    """Load and prepare a claimed batch (claimed at `now`) at once, then send and mark each
    email in its own commit. What was loaded stays loaded across those commits, rather than
    being read again for every email. When the worker is stopping, or the batch has used half
    its lease (a slow mail server), the rest is due again at once. A failure's retry counts
    from when it failed, not from the claim, which may be minutes earlier."""
    started = time.monotonic()

    def at() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    half_lease = started + CLAIM_LEASE.total_seconds() / 2
    session = db.session()
    session.expire_on_commit = False
    try:
        rows = db.session.scalars(
            select(OutboxEmail).where(OutboxEmail.id.in_(ids)).order_by(OutboxEmail.id)
        ).all()
        with emails.rendering(rows) as render, _marking() as marks:
            db.session.commit()  # end the reading transaction: each email writes in its own
            for position, row in enumerate(rows):
                if stopping() or (position and time.monotonic() > half_lease):
                    release(OutboxEmail, [later.id for later in rows[position:]],
                            still=_QUEUED, lease_until=now + CLAIM_LEASE, due_at=now)  # fmt: skip
                    break
                try:
                    carry_on = _deliver_one(smtp, row, render, marks, at(), report)
                except _MarkFailed as failed:
                    # This email was not sent: it waits with the rest of the batch.
                    _fail(failed.row_id, failed.error, at(), report)
                    _put_back([later.id for later in rows[position:]], now, at(), report)
                    break
                if not carry_on:
                    _put_back([later.id for later in rows[position + 1 :]], now, at(), report)
                    break
            try:
                marks.settle()
            except _MarkFailed as failed:
                _fail(failed.row_id, failed.error, at(), report)
    finally:
        session.expire_on_commit = True
        db.session.expire_all()


class _MarkFailed(Exception):
    """An email went out but its outcome could not be written: it goes again, as after a
    crash."""

    def __init__(self, row_id: int, error: Exception) -> None:
        super().__init__(f"marking email {row_id} failed: {error}")
        self.row_id, self.error = row_id, error


class _Marks:
    """Writes each email's outcome in a commit of its own, once the server has taken it.

    Through the session, the outcome commits together with whatever rendering the email
    wrote (a sign-in token). On PostgreSQL an email whose rendering touched no table, such as
    the monthly digest, is marked instead by one autocommitted UPDATE on a connection held for
    the batch: one round trip rather than a pool checkout, BEGIN, UPDATE and COMMIT. That
    UPDATE runs on a thread of its own while the next email is rendered and its envelope
    offered to the mail server; the next message is committed with its final dot only once the
    UPDATE is (`settle`), so a crash still repeats at most one email.
    """

    #: The same change as `_mark_in_session`, in SQL for the driver: it runs once per email.
    MARK_SQL = (
        "UPDATE outbox_emails SET recipient = NULL, attempts = attempts + 1,"
        " status = %(status)s, sent_at = coalesce(%(sent_at)s, sent_at) WHERE id = %(id)s"
    )

    def __init__(self, driver_connection: Any | None = None) -> None:
        self._driver = driver_connection
        self._writer = ThreadPoolExecutor(1) if driver_connection is not None else None
        self._pending: tuple[int, Future] | None = None

    def begin(self) -> None:
        """Before rendering: on SQLite, take the write lock now (see `begin_writing`)."""
        if self._driver is None:
            begin_writing()

    def settle(self) -> None:
        """Wait until the outcome in flight is committed; `_MarkFailed` if it was not."""
        if self._pending is None:
            return
        (row_id, written), self._pending = self._pending, None
        try:
            written.result()
        except Exception as error:
            raise _MarkFailed(row_id, error) from error

    def record(self, row_id: int, outcome: dict[str, Any]) -> None:
        self.settle()
        session = db.session()
        direct = (
            self._driver is not None
            and not self._driver.closed
            and not session.in_transaction()
            and not (session.new or session.dirty or session.deleted)
        )
        if not direct:
            _mark_in_session(row_id, outcome)
            return
        values = {"id": row_id, "status": str(outcome["status"]), "sent_at": outcome.get("sent_at")}
        self._pending = (row_id, self._writer.submit(self._driver.execute, self.MARK_SQL, values))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.shutdown(wait=True)


def _mark_in_session(row_id: int, outcome: dict[str, Any]) -> None:
    # The message is not kept, and now neither is where it went: the key, the kind and the
    # Message-ID prove what was sent.
    # On the connection, past the ORM's bulk-update machinery: this runs once per email.
    begin_writing()
    db.session.connection().execute(
        update(OutboxEmail.__table__)
        .where(OutboxEmail.id == row_id)
        .values(recipient=None, attempts=OutboxEmail.attempts + 1, **outcome)
    )
    db.session.commit()


@contextmanager
def _marking() -> Iterator[_Marks]:
    if db.session.get_bind().dialect.name != "postgresql":
        yield _Marks()
        return
    with db.engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        marks = _Marks(connection.connection.driver_connection)
        try:
            yield marks
        finally:
            marks.close()


def _deliver_one(
    smtp: SmtpSession, row: OutboxEmail, render: emails.Render, marks: _Marks, now: datetime,
    report: DeliveryReport,
) -> bool:  # fmt: skip
    """Send one claimed email and mark it in its own commit: sent once, never twice. False
    when the mail server cannot be reached, so the rest of the batch need not try."""
    marks.begin()  # the sending transaction: it writes the outcome, and maybe a token
    try:
        rendered = render(row)
        if rendered is None:
            marks.record(row.id, {"status": OutboxStatus.DROPPED})
            report.dropped += 1
        else:
            smtp.send(_envelope(row, rendered), ready=marks.settle)
            report.sent += 1
            marks.record(row.id, {"status": OutboxStatus.SENT, "sent_at": utcnow()})
    except _MarkFailed:
        db.session.rollback()
        raise
    except Exception as error:  # noqa: BLE001 - any failure is retried later
        _fail(row.id, error, now, report)
        return not _is_unreachable(error)
    return True


def _fail(row_id: int, error: Exception, now: datetime, report: DeliveryReport) -> None:
    db.session.rollback()
    # A refused recipient comes back in the error's text: the address stays out of the log.
    log.warning("email %s failed: %s", row_id, redact(str(error)))
    report.errors.append(f"{row_id}: {redact(str(error))}")  # printed by deliver-mail
    _record_failure(row_id, str(error), now, permanent=_is_permanent(error))
    failed = db.session.get(OutboxEmail, row_id)
    if failed is not None and failed.status == OutboxStatus.FAILED:
        report.failed += 1
    else:
        report.retrying += 1


def _put_back(ids: list[int], claimed: datetime, now: datetime, report: DeliveryReport) -> None:
    """The server is unreachable: the rest of the batch (claimed at `claimed`) waits as long
    as a first retry would, without counting an attempt it did not make."""
    release(OutboxEmail, ids, still=_QUEUED, lease_until=claimed + CLAIM_LEASE,
            due_at=now + retry_delay(1))  # fmt: skip
    report.retrying += len(ids)


def _is_unreachable(error: Exception) -> bool:
    if isinstance(error, smtplib.SMTPServerDisconnected | smtplib.SMTPConnectError):
        return True
    return isinstance(error, OSError) and not isinstance(error, smtplib.SMTPException)


def _is_permanent(error: Exception) -> bool:
    """A 5xx answer will not change by waiting (no such mailbox, refused); a 4xx, a dropped
    connection or anything else might."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in error.recipients.values())
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code >= 500
    return False


def _record_failure(row_id: int, error: str, now: datetime, *, permanent: bool) -> None:
    begin_writing()
    row = db.session.get(OutboxEmail, row_id)
    if row is None:
        return
    row.attempts += 1
    # A server's refusal often quotes the address, and the column is not encrypted: it would
    # outlive the (encrypted) recipient, cleared once sent or given up.
    if row.recipient:
        error = error.replace(row.recipient, "<recipient>")
    row.last_error = redact(error)[:2000]
    if permanent or row.attempts >= MAX_ATTEMPTS:
        row.status = OutboxStatus.FAILED  # given up: the reason stays, the address goes
        row.recipient = None
    else:
        row.next_attempt_at = now + retry_delay(row.attempts)
    db.session.commit()
