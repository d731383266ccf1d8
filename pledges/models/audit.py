from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class AuditEntry(db.Model):
    """One organizer action. Append-only: the database refuses to change or delete a row
    (triggers in the migration), and the app has no way to ask."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None when the action came from the command line, run by whoever holds the server.
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("organizers.id"), index=True)
    #: A verb like "case.create", "disbursement.reverse", "organizer.invite".
    action: Mapped[str] = mapped_column(String(40))
    #: What it acted on, e.g. "case:3"; ids only, never an email or a name.
    subject: Mapped[str] = mapped_column(String(80), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    #: Set when the action came through the API, with this token of the organizer's. No
    #: foreign key: the append-only table is altered in place, never rebuilt.
    api_token_id: Mapped[int | None]

    organizer: Mapped["Organizer | None"] = relationship()  # noqa: F821
