from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class LoginToken(db.Model):
    """A sign-in link for a supporter or an organizer: stored only as a hash, single use,
    short-lived."""

    __tablename__ = "login_tokens"
    __table_args__ = (
        CheckConstraint("(supporter_id IS NULL) <> (organizer_id IS NULL)", name="one_account"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    supporter_id: Mapped[int | None] = mapped_column(ForeignKey("supporters.id"), index=True)
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("organizers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
