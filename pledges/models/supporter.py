from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import EncryptedText, UTCDateTime, utcnow


class Supporter(UserMixin, db.Model):
    """Someone who gives. Deliberately thin: no address, no phone, nothing we do not need."""

    __tablename__ = "supporters"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: HMAC of the normalized email: finds a supporter without storing the address in clear.
    email_index: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(EncryptedText)
    #: Shown publicly only when set; None means anonymous, the default.
    public_name: Mapped[str | None] = mapped_column(EncryptedText)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    #: The saved card, as the provider describes it (never its number): to say which card is
    #: charged and to warn before it expires.
    card_brand: Mapped[str | None] = mapped_column(String(20))
    card_last4: Mapped[str | None] = mapped_column(String(4))
    card_exp_month: Mapped[int | None]
    card_exp_year: Mapped[int | None]
    #: What they want to hear about, beyond what their own actions cause.
    wants_reminders: Mapped[bool] = mapped_column(default=True, server_default=true())
    wants_digest: Mapped[bool] = mapped_column(default=True, server_default=true())
    wants_updates: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Set when they deleted their account: the row stays, nameless, so the books add up.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pledges: Mapped[list["Pledge"]] = relationship(  # noqa: F821
        back_populates="supporter", order_by="Pledge.id"
    )
    contributions: Mapped[list["Contribution"]] = relationship(  # noqa: F821
        back_populates="supporter", order_by="Contribution.paid_at.desc()"
    )
