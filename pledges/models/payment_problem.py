from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import EncryptedLink, UTCDateTime, utcnow


class PaymentProblem(db.Model):
    """A charge that did not go through: the card was declined ("failed"), or the bank wants
    the supporter to confirm it (3-D Secure, "action_required"). Not money, so not in the
    ledger; shown to the supporter until the invoice is paid."""

    __tablename__ = "payment_problems"
    __table_args__ = (CheckConstraint("kind IN ('failed', 'action_required')", name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    #: The provider's invoice: one problem per invoice, however many attempts fail.
    invoice_id: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    #: Where the supporter can pay or confirm it (Stripe's hosted invoice page). Encrypted: the
    #: page names the donor.
    hosted_url: Mapped[str | None] = mapped_column(EncryptedLink)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    pledge: Mapped["Pledge"] = relationship()  # noqa: F821
