from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow

#: What a token may do; a token holds one or more.
SCOPES = ("cases:write", "disbursements:write", "exports:read")


class ApiToken(db.Model):
    """A key for scripts using the organizer API. Shown once, stored as a hash; it acts as the
    admin who made it and stops working when it expires, is revoked, or they are removed."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The first characters, so that an admin can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    #: Space-separated, from SCOPES.
    scopes: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("organizers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped["Organizer"] = relationship()  # noqa: F821

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class IdempotentRequest(db.Model):
    """A creating API request made with an Idempotency-Key, kept with its answer, so that the
    same request sent again gets the same answer instead of a second record."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id"))
    key: Mapped[str] = mapped_column(String(255))
    #: Method, path and a hash of the body: the same key for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int]
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    location: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
