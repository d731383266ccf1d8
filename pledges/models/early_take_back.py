from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class EarlyTakeBack(db.Model):
    """Money Stripe took back from a charge (a refund, a dispute) whose payment we had not
    recorded yet: the payment's own event may be on its way, read the charge a moment before.
    The payment takes it into account when it is recorded, and this row is then deleted."""

    __tablename__ = "early_take_backs"
    __table_args__ = (
        CheckConstraint("refunded >= 0 AND disputed >= 0", name="amounts_not_negative"),
    )

    charge_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: What the charge says went back, in the currency it was paid in (as Stripe states it).
    refunded: Mapped[int] = mapped_column(default=0)
    disputed: Mapped[int] = mapped_column(default=0)
    #: What the disputes cost in fees, in the account's currency.
    dispute_fees: Mapped[int] = mapped_column(default=0, server_default="0")
    noted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
