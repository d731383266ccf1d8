"""Organizers' side of disbursements: what a pool holds before paying, recording a payment and
correcting a mistaken one. Every change goes through the ledger, as the command line's does."""

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy import case as sql_case

from pledges.extensions import db
from pledges.models import Case, Contribution, Disbursement, Organizer
from pledges.services import audit, ledger
from pledges.services.ledger import AVAILABLE, cutoff


@dataclass(frozen=True)
class PoolFigure:
    """What contributions paid by a day still hold for a case: its earmarked money first,
    then the general fund."""

    currency: str
    earmarked: int
    general: int

    @property
    def total(self) -> int:
        return self.earmarked + self.general

    def other_income_for(self, amount: int) -> int:
        """The part of `amount` no contribution could cover, if it were recorded now."""
        return max(0, amount - self.total)


def pool_for(case: Case, paid_on: date) -> PoolFigure:
    before = cutoff(paid_on)
    return PoolFigure(
        currency=case.currency,
        earmarked=ledger.remaining(case.currency, case.id, before),
        general=ledger.remaining(case.currency, None, before),
    )


@dataclass(frozen=True)
class Unallocated:
    #: Money in every pool that no disbursement has spent yet.
    amount: int
    #: What the processor kept of payments it gave back: its fee stays with it on a refund, so
    #: a payment refunded or disputed beyond its net costs the fund the difference, and each
    #: dispute costs a fee of its own. The ledger counts such a payment as giving nothing
    #: (never less), so the pools hold that much more than the account.
    kept_on_returns: int
    #: What chargebacks on payments already refunded took a second time (Stripe takes a
    #: chargeback's money whatever was refunded, until the fund wins it with the refund as
    #: evidence): the account holds that much less again.
    taken_twice: int


def unallocated(currency: str) -> Unallocated:
    beyond_net = Contribution.refunded + Contribution.disputed - Contribution.net
    # In the ledger's currency at the payment's own rate, as `Contribution.in_ledger_currency`
    # (64-bit: the product outgrows 32 bits on PostgreSQL).
    twice = (
        cast(Contribution.disputed_beyond_paid, BigInteger)
        * Contribution.gross
        // Contribution.paid_amount
    )
    available, kept, taken_twice = db.session.execute(
        select(
            func.coalesce(func.sum(AVAILABLE), 0),
            func.coalesce(
                func.sum(
                    sql_case((beyond_net > 0, beyond_net), else_=0) + Contribution.dispute_fees
                ),
                0,
            ),
            func.coalesce(
                func.sum(sql_case((Contribution.disputed_beyond_paid > 0, twice), else_=0)), 0
            ),
        ).where(Contribution.currency == currency)
    ).one()
    # What disbursements took from contributions: their amounts less other income, which the
    # ledger keeps equal to their allocations (a few thousand rows, not a million).
    spent = db.session.scalar(
        select(func.coalesce(func.sum(Disbursement.amount - Disbursement.other_income), 0)).where(
            Disbursement.currency == currency, Disbursement.in_ledger
        )
    )
    return Unallocated(available - spent, kept, int(taken_twice))


@dataclass(frozen=True)
class Recorded:
    disbursement: Disbursement
    #: Whether the same form had been sent before: then nothing new was recorded.
    repeated: bool = False
    #: Payments dated later whose share of other income the new one changed: id -> (before, after).
    recalculated: dict[int, tuple[int, int]] = field(default_factory=dict)


def later_payments(currency: str, paid_on: date) -> int:
    """How many payments in the ledger are dated after `paid_on`: a payment dated before them
    takes money first, and theirs is worked out again."""
    return db.session.scalar(
        select(func.count()).where(
            Disbursement.in_ledger,
            Disbursement.currency == currency,
            Disbursement.paid_on > paid_on,
        )
    )


def record(
    case: Case,
    amount: int,
    paid_on: date,
    note: str,
    *,
    by: Organizer | None,
    request_key: str | None = None,
) -> Recorded:
    ledger.lock()  # before looking: the same form sent twice at once must see the first
    if request_key:
        earlier = db.session.scalar(
            select(Disbursement).where(Disbursement.request_key == request_key)
        )
        if earlier is not None:
            return Recorded(earlier, repeated=True)
    later = dict(
        db.session.execute(
            select(Disbursement.id, Disbursement.other_income).where(
                Disbursement.in_ledger,
                Disbursement.currency == case.currency,
                Disbursement.paid_on > paid_on,
            )
        ).all()
    )
    disbursement = ledger.record_disbursement(case, amount, paid_on, note)
    disbursement.request_key = request_key
    changed = {}
    if later:
        after = dict(
            db.session.execute(
                select(Disbursement.id, Disbursement.other_income).where(
                    Disbursement.id.in_(list(later))
                )
            ).all()
        )
        changed = {i: (later[i], after[i]) for i in sorted(later) if later[i] != after[i]}
    detail = f"{amount} {case.currency} to case:{case.id} on {paid_on.isoformat()}"
    if changed:
        detail += "; recalculated " + ", ".join(
            f"disbursement:{i} other income {old} -> {new}" for i, (old, new) in changed.items()
        )
    audit.record("disbursement.record", disbursement, detail, by=by)
    return Recorded(disbursement, recalculated=changed)


def reverse(original: Disbursement, paid_on: date, note: str, *, by: Organizer) -> Disbursement:
    correction = ledger.reverse_disbursement(original, paid_on, note)
    audit.record("disbursement.reverse", original, f"by disbursement:{correction.id}", by=by)
    return correction


def history() -> list[Disbursement]:
    return list(
        db.session.scalars(
            select(Disbursement).order_by(Disbursement.paid_on.desc(), Disbursement.id.desc())
        )
    )
