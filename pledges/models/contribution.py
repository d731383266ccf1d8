from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import EncryptedLink, UTCDateTime, utcnow


class Contribution(db.Model):
    """One payment received. What it can give to cases is its net less refunds and disputes;
    the ledger's allocations say where that went.

    The supporter paid `paid_amount` in `paid_currency`; everything else is in the fund's ledger
    currency (`currency`): what reached the fund before (`gross`) and after (`net`) the
    processor's fee, and what was taken back. What was taken back is also kept as the processor
    states it, in the currency paid (`refunded_paid`, `disputed_paid`): the ledger's amounts are
    converted from those totals (`ledger.take_back`), never added up from converted parts, so a
    payment given back in parts is given back to the cent.
    """

    __tablename__ = "contributions"
    __table_args__ = (
        CheckConstraint("gross > 0", name="gross_positive"),
        CheckConstraint("paid_amount > 0", name="paid_amount_positive"),
        CheckConstraint("fee >= 0 AND fee <= gross", name="fee_within_gross"),
        CheckConstraint("net = gross - fee", name="net_is_gross_less_fee"),
        CheckConstraint(
            "refunded >= 0 AND disputed >= 0 AND refunded + disputed <= gross",
            name="withdrawn_within_gross",
        ),
        CheckConstraint(
            "refunded_paid >= 0 AND disputed_paid >= 0"
            " AND refunded_paid + disputed_paid <= paid_amount",
            name="withdrawn_within_paid",
        ),
        # The ledger reads a pool (one case's earmarked money, or the general fund) in paid
        # order from where it last stopped. Two indexes, as PostgreSQL orders an IS NULL scan no
        # better than a sort. Neither names a column the ledger writes, so it writes nothing here.
        Index(
            "ix_contributions_earmarked_pool",
            "earmarked_case_id",
            "paid_at",
            "id",
            postgresql_where=text("earmarked_case_id IS NOT NULL"),
            sqlite_where=text("earmarked_case_id IS NOT NULL"),
        ),
        Index(
            "ix_contributions_general_pool",
            "paid_at",
            "id",
            postgresql_where=text("earmarked_case_id IS NULL"),
            sqlite_where=text("earmarked_case_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporters.id"), index=True)
    #: None for a one-off gift.
    pledge_id: Mapped[int | None] = mapped_column(ForeignKey("pledges.id"), index=True)
    #: The ledger currency (FUND_CURRENCY) of every amount below but `paid_amount`.
    currency: Mapped[str] = mapped_column(String(3))
    #: What the supporter paid, in their pledge's currency.
    paid_amount: Mapped[int]
    paid_currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[int]
    fee: Mapped[int] = mapped_column(default=0)
    net: Mapped[int]
    refunded: Mapped[int] = mapped_column(default=0)
    #: Taken back by a card dispute (chargeback).
    disputed: Mapped[int] = mapped_column(default=0)
    #: The two above as the processor states them, in the currency paid.
    refunded_paid: Mapped[int] = mapped_column(default=0, server_default="0")
    disputed_paid: Mapped[int] = mapped_column(default=0, server_default="0")
    #: What its disputes hold beyond what its refunds left, in the currency paid: Stripe takes
    #: a chargeback's money even from a refunded charge, until the fund wins the dispute with
    #: the refund as evidence. The ledger cannot take it twice; the account is that much less.
    disputed_beyond_paid: Mapped[int] = mapped_column(default=0, server_default="0")
    #: What its disputes cost the fund in fees, beyond the money they took (the processor keeps
    #: them, won or lost, in most countries); no part of the ledger, which spends payments.
    dispute_fees: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The pledge's earmark when this was paid: a later change of earmark does not move it.
    earmarked_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    provider: Mapped[str] = mapped_column(String(16))
    #: The invoice (or payment) id at the provider; unique, so a replayed event counts once.
    provider_payment_id: Mapped[str] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: Stripe's hosted invoice page, the supporter's receipt. Encrypted: the page names the donor.
    receipt_url: Mapped[str | None] = mapped_column(EncryptedLink)
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    supporter: Mapped["Supporter"] = relationship(back_populates="contributions")  # noqa: F821
    pledge: Mapped["Pledge | None"] = relationship(back_populates="contributions")  # noqa: F821

    @property
    def available(self) -> int:
        """What this payment can give to cases: its net, less what was taken back."""
        return max(0, self.net - self.refunded - self.disputed)

    @property
    def converted(self) -> bool:
        return self.paid_currency != self.currency

    def in_ledger_currency(self, paid: int) -> int:
        """Part of what was paid (a refund, a dispute, in the paid currency) in the ledger's,
        at this payment's own rate: all of it is exactly `gross`, so a full refund leaves
        nothing behind and never takes more than came in."""
        if paid >= self.paid_amount:
            return self.gross
        return paid * self.gross // self.paid_amount

    @property
    def paid_returned(self) -> int:
        """What was refunded or disputed, in the currency paid."""
        return self.refunded_paid + self.disputed_paid

    @property
    def status(self) -> str:
        """As the supporter reads it, in the currency they paid: paid, refunded, part-refunded or
        disputed."""
        if self.disputed_paid:
            return "disputed"
        if self.refunded_paid:
            return "refunded" if self.refunded_paid >= self.paid_amount else "part-refunded"
        return "paid"

    @property
    def fee_borne(self) -> int:
        """The fee as the supporter sees it: a fully refunded payment cost them no fee."""
        return min(self.fee, self.gross - self.refunded - self.disputed)
