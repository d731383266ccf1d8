from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class CaseStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    FUNDED = "funded"
    CLOSED = "closed"


class Case(db.Model):
    """Something the fund takes on. The person helped may stay pseudonymous."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint("goal IS NULL OR goal > 0", name="goal_positive"),
        CheckConstraint("status IN ('draft', 'open', 'funded', 'closed')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(String(500))
    #: Markdown, sanitized when rendered.
    story: Mapped[str] = mapped_column(Text, default="")
    #: In minor units of `currency`; None when the case has no fixed goal.
    goal: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.DRAFT)
    #: How the person helped is called in public, e.g. "A., a journalist in exile".
    beneficiary_pseudonym: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    updates: Mapped[list["CaseUpdate"]] = relationship(  # noqa: F821
        back_populates="case", order_by="CaseUpdate.published_at.desc()"
    )
