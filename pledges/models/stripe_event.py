from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class StripeEvent(db.Model):
    """Every webhook event id we acted on: a replay is a no-op. The body is not kept."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    #: When Stripe created the event, not when it reached us.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
