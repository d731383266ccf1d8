from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from pledges.extensions import db
from pledges.models.types import EncryptedText, UTCDateTime, utcnow


class PledgeStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"


#: Where a pledge may go from each status. Anything else is a late or replayed event and is
#: ignored, so that a pledge never moves backwards (e.g. canceled -> active, active -> pending).
ALLOWED_TRANSITIONS: dict[PledgeStatus, frozenset[PledgeStatus]] = {
    PledgeStatus.PENDING: frozenset({PledgeStatus.ACTIVE, PledgeStatus.CANCELED}),
    PledgeStatus.ACTIVE: frozenset(
        {PledgeStatus.PAST_DUE, PledgeStatus.PAUSED, PledgeStatus.CANCELED}
    ),
    PledgeStatus.PAST_DUE: frozenset(
        {PledgeStatus.ACTIVE, PledgeStatus.PAUSED, PledgeStatus.CANCELED}
    ),
    PledgeStatus.PAUSED: frozenset(
        {PledgeStatus.ACTIVE, PledgeStatus.PAST_DUE, PledgeStatus.CANCELED}
    ),
    PledgeStatus.CANCELED: frozenset(),
}


class Pledge(db.Model):
    """A supporter's monthly promise, paid by a subscription at a payment provider."""

    __tablename__ = "pledges"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('pending', 'active', 'past_due', 'paused', 'canceled')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supporter_id: Mapped[int] = mapped_column(ForeignKey("supporters.id"), index=True)
    #: Monthly amount in minor units of `currency`.
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PledgeStatus.PENDING, index=True)
    #: "stripe" or "demo": which gateway runs the subscription.
    provider: Mapped[str] = mapped_column(String(16))
    provider_subscription_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    provider_customer_id: Mapped[str | None] = mapped_column(String(255))
    #: Earmark: the case this pledge is for; None means the general fund.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    next_charge_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: The day of the month it is charged on (UTC), as the provider bills from its anchor: a
    #: pledge charged on the 31st is charged on Feb 28, then on Mar 31. None until known.
    charge_day: Mapped[int | None] = mapped_column(SmallInteger)
    #: While paused: the day charges start again by themselves.
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Set when the supporter canceled: the pledge ends then, at the end of the paid period.
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Why, if they said: a short free text, read only as an aggregate.
    cancel_reason: Mapped[str | None] = mapped_column(String(80))
    #: The public name typed on the pledge form. It reaches the supporter only once they confirm
    #: it signed in: the form is public, and a name planted on someone's address would later
    #: show that they give.
    requested_public_name: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    supporter: Mapped["Supporter"] = relationship(back_populates="pledges")  # noqa: F821
    case: Mapped["Case | None"] = relationship()  # noqa: F821
    contributions: Mapped[list["Contribution"]] = relationship(  # noqa: F821
        back_populates="pledge", order_by="Contribution.paid_at"
    )
    earmark_changes: Mapped[list["EarmarkChange"]] = relationship(
        order_by="EarmarkChange.changed_at"
    )

    def can_move_to(self, status: PledgeStatus) -> bool:
        return status in ALLOWED_TRANSITIONS[PledgeStatus(self.status)]


class EarmarkChange(db.Model):
    """Where a pledge's payments went before the supporter moved its earmark. A payment is
    often recorded after it was made (a late event, a retry, `sync-stripe`), and what was paid
    stays where it was paid for."""

    __tablename__ = "earmark_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    pledge_id: Mapped[int] = mapped_column(ForeignKey("pledges.id"), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The earmark until then; None was the general fund.
    case_id_before: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))

    case_before: Mapped["Case | None"] = relationship()  # noqa: F821
