from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import EncryptedText, UTCDateTime, utcnow


class OutboxStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    #: Nothing to send after all, e.g. a sign-in link asked for an unknown address.
    DROPPED = "dropped"
    #: Gave up after the last retry.
    FAILED = "failed"


class OutboxEmail(db.Model):
    """An email queued in the same transaction as its cause, sent later by the mail worker.

    Only ids go in `context`; the message is rendered when it is sent, so that secrets such as a
    sign-in token are never stored in clear.
    """

    __tablename__ = "outbox_emails"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'sent', 'dropped', 'failed')", name="status_known"),
        # What the mail worker asks for, among a growing number of rows long sent.
        Index(
            "ix_outbox_emails_due",
            "next_attempt_at",
            "id",
            postgresql_where=text("status = 'queued'"),
            sqlite_where=text("status = 'queued'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: e.g. "welcome:<pledge id>": the same key is never queued twice.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str | None] = mapped_column(EncryptedText)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Stable across retries, so a receiving server can tell a retry from a new message.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
