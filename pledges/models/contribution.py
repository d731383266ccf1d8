from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class Contribution(db.Model):
    """One payment received. What it has left to give is net minus refunds."""

    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint("gross > 0", name="gross_positive"),
        CheckConstraint("fee >= 0 AND fee <= gross", name="fee_within_gross"),
        CheckConstraint("net = gross - fee", name="net_is_gross_less_fee"),
        CheckConstraint("refunded >= 0 AND refunded <= gross", name="refunded_within_gross"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporters.id"), index=True)
    #: None for a one-off gift.
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int]
    fee: Mapped[int] = mapped_column(default=0)
    net: Mapped[int]
    refunded: Mapped[int] = mapped_column(default=0)
    provider: Mapped[str] = mapped_column(String(16))
    #: The invoice (or payment) id at the provider; unique, so a replayed event counts once.
    provider_payment_id: Mapped[str] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: Stripe's hosted invoice page, the supporter's receipt.
    receipt_url: Mapped[str | None] = mapped_column(String(1000))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped["Supporter"] = relationship(back_populates="contributions")  # noqa: F821
    pledge: Mapped["Pledge | None"] = relationship(back_populates="contributions")  # noqa: F821
