from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import EncryptedText, UTCDateTime, utcnow


class OrganizerRole(StrEnum):
    ORGANIZER = "organizer"
    ADMIN = "admin"


class Organizer(db.Model):
    """Someone who runs the fund. Signs in with an emailed link and a TOTP code, both."""

    __tablename__ = "organizers"
    __table_args__ = (CheckConstraint("role IN ('organizer', 'admin')", name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Blind index of the normalized email, in its own namespace: a dump does not show which
    #: organizers also give.
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(EncryptedText)
    #: How other organizers and the audit log call them, e.g. "Sam (treasurer)".
    name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(16), default=OrganizerRole.ORGANIZER)
    #: Set when enrolment starts; the second factor counts only once `totp_confirmed_at` is set.
    totp_secret: Mapped[str | None] = mapped_column(EncryptedText)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The last time step a code was accepted for: a code seen once is never accepted again.
    last_totp_step: Mapped[int | None]
    #: Raised to end every session this organizer has open (sign out everywhere, removal).
    session_epoch: Mapped[int] = mapped_column(default=0)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("organizers.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Removed organizers stay, so the audit log keeps naming who did what.
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invited_by: Mapped["Organizer | None"] = relationship(remote_side=[id])
    recovery_codes: Mapped[list["RecoveryCode"]] = relationship(
        back_populates="organizer", order_by="RecoveryCode.id"
    )

    @property
    def is_admin(self) -> bool:
        return self.role == OrganizerRole.ADMIN

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class RecoveryCode(db.Model):
    """A one-time code for when the authenticator is lost; stored only as a hash."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("organizers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organizer: Mapped[Organizer] = relationship(back_populates="recovery_codes")
