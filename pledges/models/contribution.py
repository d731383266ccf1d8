from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow

_UNSPENT = "allocated < net - refunded - disputed"


class Contribution(db.Model):
    """One payment received. What it can give to cases is its net less refunds and disputes;
    `allocated` is how much of that the ledger has already given."""

    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint("gross > 0", name="gross_positive"),
        CheckConstraint("fee >= 0 AND fee <= gross", name="fee_within_gross"),
        CheckConstraint("net = gross - fee", name="net_is_gross_less_fee"),
        CheckConstraint(
            "refunded >= 0 AND disputed >= 0 AND refunded + disputed <= gross",
            name="withdrawn_within_gross",
        ),
        CheckConstraint("allocated >= 0 AND allocated <= net", name="allocated_within_net"),
        # Find what still has money to give, in the order the ledger spends it, without walking
        # the contributions that are used up (most of them, in an old fund). Two indexes, as
        # PostgreSQL orders an IS NULL scan no better than a sort.
        Index(
            "ix_contributions_unspent_earmarked",
            "earmarked_case_id",
            "paid_at",
            "id",
            postgresql_where=text(f"earmarked_case_id IS NOT NULL AND {_UNSPENT}"),
            sqlite_where=text(f"earmarked_case_id IS NOT NULL AND {_UNSPENT}"),
        ),
        Index(
            "ix_contributions_unspent_general",
            "paid_at",
            "id",
            postgresql_where=text(f"earmarked_case_id IS NULL AND {_UNSPENT}"),
            sqlite_where=text(f"earmarked_case_id IS NULL AND {_UNSPENT}"),
        ),
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
    #: Taken back by a card dispute (chargeback).
    disputed: Mapped[int] = mapped_column(default=0)
    #: Given to cases through the ledger's allocations; kept in step with them.
    allocated: Mapped[int] = mapped_column(default=0)
    #: The pledge's earmark when this was paid: a later change of earmark does not move it.
    earmarked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
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

    @property
    def available(self) -> int:
        """What this payment can give to cases: its net, less what was taken back."""
        return max(0, self.net - self.refunded - self.disputed)

    @property
    def fee_borne(self) -> int:
        """The fee as the supporter sees it: a fully refunded payment cost them no fee."""
        return min(self.fee, self.gross - self.refunded - self.disputed)
