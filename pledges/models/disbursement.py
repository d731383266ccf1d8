from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import UTCDateTime, utcnow


class Disbursement(db.Model):
    """Money paid from the fund to a case. Never deleted: a correcting entry undoes a mistake."""

    __tablename__ = "disbursements"
    __table_args__ = (
        # A payment is positive; the entry correcting it is the same amount, negative.
        CheckConstraint(
            "(reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0)",
            name="amount_signed",
        ),
        CheckConstraint(
            "other_income >= 0 AND other_income <= abs(amount)", name="other_income_within_amount"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    #: In minor units of `currency`, the case's currency; negative for a correcting entry, so
    #: that what a case was paid is simply the sum.
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    #: The day the money left the fund; contributions paid later cannot have funded it.
    paid_on: Mapped[date] = mapped_column(Date, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    #: The part no contribution covered: paid from other income (grants, cash, reserves).
    other_income: Mapped[int] = mapped_column(default=0)
    #: Set on a correcting entry: the disbursement it cancels.
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("disbursements.id"), unique=True)
    #: Whether the attribution ledger spends contributions on it: false for a reversed
    #: disbursement and for the entry that reversed it.
    in_ledger: Mapped[bool] = mapped_column(default=True, server_default=true())
    #: The one-time key of the form that recorded it: sending the form again records nothing.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped["Case"] = relationship()  # noqa: F821
    reverses: Mapped["Disbursement | None"] = relationship(
        remote_side=[id], back_populates="reversed_by"
    )
    reversed_by: Mapped["Disbursement | None"] = relationship(back_populates="reverses")
    allocations: Mapped[list["Allocation"]] = relationship(
        back_populates="disbursement", order_by="Allocation.contribution_id"
    )

    @property
    def ledger_key(self) -> tuple[date, int]:
        """The order the ledger spends in: by date paid, then by when it was recorded."""
        return (self.paid_on, self.id)


class Allocation(db.Model):
    """How much of one contribution went into one disbursement: the attribution ledger."""

    __tablename__ = "allocations"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    # One row per (disbursement, contribution): the pair is the key, and no surrogate id makes
    # every write maintain one more index.
    disbursement_id: Mapped[int] = mapped_column(ForeignKey("disbursements.id"), primary_key=True)
    contribution_id: Mapped[int] = mapped_column(
        ForeignKey("contributions.id"), primary_key=True, index=True
    )
    amount: Mapped[int]

    disbursement: Mapped[Disbursement] = relationship(back_populates="allocations")
    contribution: Mapped["Contribution"] = relationship()  # noqa: F821


class LedgerFrontier(db.Model):
    """Where the ledger stopped in each pool: the newest contribution that has given anything.

    FIFO spends each pool as a prefix, so every contribution after this one still has all it
    can give, and recording a disbursement starts here instead of walking a fund's whole past.
    Derived state: a rebuild recomputes it, and `ledger-check` verifies it.
    """

    __tablename__ = "ledger_frontiers"

    #: "<currency>:<case id>" for a case's earmarked money, "<currency>:general" for the rest.
    pool: Mapped[str] = mapped_column(String(40), primary_key=True)
    contribution_id: Mapped[int] = mapped_column(ForeignKey("contributions.id"))
