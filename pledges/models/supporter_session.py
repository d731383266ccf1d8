from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class SupporterSession(db.Model):
    """A signed-in browser. The cookie carries a random token; this row, found by its hash,
    is what makes it valid, so signing out (here or everywhere) ends it on the server."""

    __tablename__ = "supporter_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporters.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
