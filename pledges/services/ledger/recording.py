"""Recording in the ledger: disbursements, and the changes that can rewrite history (refunds,
disputes, payments recorded late). Each keeps the rows exactly what a full rebuild would write."""

from datetime import UTC, date

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, true, tuple_, update
from sqlalchemy.orm import aliased

from pledges.extensions import db
from pledges.models import Allocation, Case, Contribution, Disbursement, LedgerFrontier
from pledges.services.ledger.common import (
    AVAILABLE,
    allocations,
    cutoff,
    frontiers,
    given,
    given_sql,
    lock,
    pool_key,
)
from pledges.services.ledger.rebuilding import insert_allocations, rebuild

#: Contributions read and written per round trip while spending.
BATCH = 500


# -- recording ---------------------------------------------------------------------------------


def record_disbursement(case: Case, amount: int, paid_on: date, note: str = "") -> Disbursement:
    """Record money paid to a case and attribute it, in the caller's transaction."""
    if amount <= 0:
        raise ValueError("a disbursement must be a positive amount")
    lock()
    disbursement = Disbursement(
        case=case, amount=amount, currency=case.currency, paid_on=paid_on, note=note
    )
    db.session.add(disbursement)
    db.session.flush()
    later = db.session.scalar(
        select(func.count())
        .select_from(Disbursement)
        .where(Disbursement.in_ledger, Disbursement.paid_on > paid_on)
    )
    if later:
        rebuild(since=disbursement.ledger_key)
    else:
        _spend(disbursement)
    return disbursement


def reverse_disbursement(original: Disbursement, paid_on: date, note: str) -> Disbursement:
    """Cancel a mistaken disbursement with a correcting entry; nothing is deleted but the
    original's allocations, which are derived. The money it had spent is free again, so the
    ledger is rebuilt from where the original stood."""
    lock()
    # Looked at again under the lock: a reversal sent twice at once must see the first.
    db.session.refresh(original)
    if not original.in_ledger:
        raise ValueError("this disbursement is already reversed, or is itself a correction")
    if paid_on < original.paid_on:
        raise ValueError("a correction cannot be dated before the payment it reverses")
    correction = Disbursement(
        case_id=original.case_id,
        amount=-original.amount,
        currency=original.currency,
        paid_on=paid_on,
        note=note,
        reverses_id=original.id,
        in_ledger=False,
    )
    original.in_ledger = False
    db.session.add(correction)
    db.session.execute(delete(allocations).where(allocations.c.disbursement_id == original.id))
    db.session.flush()
    rebuild(since=original.ledger_key)
    return correction


def _spend(disbursement: Disbursement) -> None:
    """Attribute the newest disbursement: in each of its pools, start where the ledger last
    stopped and take, in paid order, what contributions paid by its date can give."""
    remaining = disbursement.amount
    for case_id in (disbursement.case_id, None):
        if remaining:
            remaining = _spend_from_pool(disbursement, case_id, remaining)
    disbursement.other_income = remaining


def _pool_reads(earmarked: bool) -> tuple:
    """The statements that read one pool, built once: recording runs them many times a second
    in a busy fund, and building SQLAlchemy expressions costs more than running them."""
    pool = (
        Contribution.earmarked_case_id == bindparam("case_id")
        if earmarked
        else Contribution.earmarked_case_id.is_(None)
    )
    first = (
        select(Contribution.id, AVAILABLE)
        .where(
            pool,
            Contribution.currency == bindparam("currency"),
            Contribution.paid_at < bindparam("before"),
            AVAILABLE > 0,
        )
        .order_by(Contribution.paid_at, Contribution.id)
        .limit(BATCH)
    )
    earlier = aliased(Contribution)
    last_paid_at = select(earlier.paid_at).where(earlier.id == bindparam("last")).scalar_subquery()
    following = first.where(
        tuple_(Contribution.paid_at, Contribution.id) > tuple_(last_paid_at, bindparam("last"))
    )
    return first, following


_READS = {True: _pool_reads(earmarked=True), False: _pool_reads(earmarked=False)}
_STOPPED = (
    select(Contribution.id, AVAILABLE - given_sql(Contribution.id))
    .join(LedgerFrontier, LedgerFrontier.contribution_id == Contribution.id)
    .where(LedgerFrontier.pool == bindparam("pool"))
)


def _spend_from_pool(disbursement: Disbursement, case_id: int | None, remaining: int) -> int:
    pool = pool_key(disbursement.currency, case_id)
    takes: list[tuple[int, int]] = []
    # Where the pool stopped, and what that contribution has left, in one round trip.
    stopped = db.session.execute(_STOPPED, {"pool": pool}).first()
    last = None
    if stopped is not None:
        last, left = stopped
        if left > 0:
            takes.append((last, min(left, remaining)))
            remaining -= takes[-1][1]
    first, following = _READS[case_id is not None]
    params = {
        "case_id": case_id,
        "currency": disbursement.currency,
        "before": cutoff(disbursement.paid_on),
    }
    while remaining:
        query = first if last is None else following
        batch = db.session.execute(query, {**params, "last": last}).all()
        for contribution_id, available in batch:
            takes.append((contribution_id, min(available, remaining)))
            remaining -= takes[-1][1]
            last = contribution_id
            if not remaining:
                break
        if len(batch) < BATCH:
            break
    if takes:
        insert_allocations([(disbursement.id, cid, amount) for cid, amount in takes])
        moved = {"pool": pool, "contribution_id": takes[-1][0]}
        if stopped is None:
            db.session.execute(insert(frontiers), moved)
        else:
            db.session.execute(
                update(frontiers)
                .where(frontiers.c.pool == pool)
                .values(contribution_id=moved["contribution_id"])
            )
    return remaining


# -- changes that can rewrite history ----------------------------------------------------------


def take_back(
    contribution: Contribution,
    *,
    refunded: int | None = None,
    disputed: int | None = None,
    exactly: bool = False,
) -> None:
    """What went back of a payment, in the currency it was paid in, as the processor states it
    (the total, not this time's part; None: unchanged). Less to give: if that money was spent,
    the ledger is rebuilt from the first disbursement that spent it. More (a refund that
    failed, a dispute won): it may fund what came after.

    The amounts only grow, unless `exactly`: facts read a while ago (a payment's charge, read
    before a refund's own event was handled) must not undo what a later event took back; an
    event that reads the charge's refunds or disputes afresh says what they hold now.
    """
    lock()
    before = contribution.available
    refunded_paid = _settled(contribution.refunded_paid, refunded, exactly)
    refunded_paid = min(refunded_paid, contribution.paid_amount)
    held_before = contribution.disputed_paid + contribution.disputed_beyond_paid
    held = _settled(held_before, disputed, exactly)
    # A refunded charge later disputed: the payment gives nothing, never less. What the
    # dispute holds beyond that left the account twice, and is kept beside the ledger.
    disputed_paid = min(held, contribution.paid_amount - refunded_paid)
    contribution.refunded_paid, contribution.disputed_paid = refunded_paid, disputed_paid
    contribution.disputed_beyond_paid = held - disputed_paid
    # Converted from the totals, so that all of it given back in parts is all of `gross`.
    contribution.refunded = contribution.in_ledger_currency(refunded_paid)
    contribution.disputed = (
        contribution.in_ledger_currency(refunded_paid + disputed_paid) - contribution.refunded
    )
    db.session.flush()
    if contribution.available > before:
        place_late_contribution(contribution)
    elif given(contribution.id) > contribution.available:
        first = db.session.execute(
            select(Disbursement.paid_on, Disbursement.id)
            .join(Allocation, Allocation.disbursement_id == Disbursement.id)
            .where(Allocation.contribution_id == contribution.id)
            .order_by(Disbursement.paid_on, Disbursement.id)
            .limit(1)
        ).one()
        rebuild(since=tuple(first))


def _settled(current: int, stated: int | None, exactly: bool) -> int:
    if stated is None:
        return current
    return max(0, stated) if exactly else max(current, stated)


def place_late_contribution(contribution: Contribution) -> None:
    """A payment recorded after disbursements dated on or after it may change who funded them.

    A disbursement is unchanged unless it spent something that comes after this contribution in
    its spending order, or needed other income; the first that did is rebuilt, with the rest.
    """
    if contribution.available == 0:
        return
    # Under the ledger lock before looking: a disbursement being recorded at this moment must
    # either see this payment or be seen by this check.
    lock()
    pool_matches = (
        true()
        if contribution.earmarked_case_id is None
        else Disbursement.case_id == contribution.earmarked_case_id
    )
    first_changed = db.session.execute(
        select(Disbursement.paid_on, Disbursement.id)
        .where(
            Disbursement.in_ledger,
            Disbursement.paid_on >= contribution.paid_at.astimezone(UTC).date(),
            Disbursement.currency == contribution.currency,
            pool_matches,
            or_(Disbursement.other_income > 0, _spent_after(contribution)),
        )
        .order_by(Disbursement.paid_on, Disbursement.id)
        .limit(1)
    ).first()
    if first_changed is not None:
        rebuild(since=tuple(first_changed))


def _spent_after(contribution: Contribution):  # noqa: ANN202
    """SQL, per disbursement: it spent something that comes after this contribution in its
    spending order."""
    newer = tuple_(Contribution.paid_at, Contribution.id) > tuple_(
        contribution.paid_at, contribution.id
    )
    if contribution.earmarked_case_id is None:
        after = and_(Contribution.earmarked_case_id.is_(None), newer)
    else:  # earmarked for this case: the whole general pool comes after it
        after = or_(Contribution.earmarked_case_id.is_(None), newer)
    return (
        select(Allocation.amount)
        .join(Contribution, Contribution.id == Allocation.contribution_id)
        .where(Allocation.disbursement_id == Disbursement.id, after)
        .exists()
    )
