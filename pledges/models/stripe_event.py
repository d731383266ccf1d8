from datetime import datetime

from sqlalchemy import Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import EncryptedText, UTCDateTime, utcnow


class StripeEvent(db.Model):
    """Every webhook event received: a replay is a no-op. Its object waits here, encrypted,
    until a worker has applied it (`handle-stripe-events`), and is then dropped: only the id,
    type and times are kept."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        Index(
            "ix_stripe_events_due",
            "next_attempt_at",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    #: When Stripe created the event, not when it reached us.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The event's object as JSON, encrypted (a checkout carries the payer's email); None once
    #: handled, and for types we do not act on.
    payload: Mapped[str | None] = mapped_column(EncryptedText)
    #: When its effect was written (in the same transaction); None while it waits.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    #: When a worker may take it (again): a claim moves it a lease ahead, a failure back off.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The kind of error that made the last attempt fail (no message: it may name a donor).
    last_error: Mapped[str | None] = mapped_column(String(100))
