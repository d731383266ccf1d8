from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class CaseUpdate(db.Model):
    """An outcome posted on a case: what happened with the money."""

    __tablename__ = "case_updates"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: Markdown, sanitized when rendered.
    body: Mapped[str] = mapped_column(Text, default="")
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the case's supporters were sent this update by email; None if they were not.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped["Case"] = relationship(back_populates="updates")  # noqa: F821
