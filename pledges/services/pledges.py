"""A pledge's life: started on the form, confirmed by the payment provider, paid monthly.

The Stripe webhook handler and the demo gateway both call these functions, so the ledger and
the emails cannot tell the two apart.
"""

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, delete, exists, select

from pledges.extensions import add_unless_taken, db
from pledges.models import (
    Case,
    CaseStatus,
    Contribution,
    EarmarkChange,
    PaymentProblem,
    Pledge,
    PledgeStatus,
    Supporter,
)
from pledges.services import ledger, mail_outbox, supporters

log = logging.getLogger(__name__)


def start_pledge(
    *,
    email: str,
    amount: int,
    currency: str,
    provider: str,
    public_name: str | None = None,
    case: Case | None = None,
    locale: str = "en",
) -> Pledge:
    """Record a pending pledge; it becomes active only once the payment is confirmed.

    `locale` is the language the form was in: a new supporter's emails come in it.
    """
    if amount <= 0:
        raise ValueError("a pledge amount must be positive")
    if case is not None and case.status != CaseStatus.OPEN:
        raise ValueError("only an open case can be earmarked")
    supporter = supporters.find_or_create(email, locale=locale)
    pledge = Pledge(
        requested_public_name=public_name,
        supporter=supporter,
        amount=amount,
        currency=currency,
        provider=provider,
        case=case,
        status=PledgeStatus.PENDING,
    )
    db.session.add(pledge)
    db.session.flush()
    return pledge


def restart_ended(ended: Pledge, now: datetime | None = None) -> Pledge:
    """A new pending pledge like one that has ended, or the one a tap before made (within a
    day), so that tapping "restart" twice never opens two subscriptions' checkouts."""
    now = now or datetime.now(UTC)
    case = ended.case if ended.case and ended.case.status == CaseStatus.OPEN else None
    like_it = (ended.amount, ended.currency, case.id if case else None, None)
    for pledge in ended.supporter.pledges:
        recent = pledge.created_at > now - timedelta(days=1)
        # Only the very pledge a restart makes: anyone can start a pending pledge for an address
        # on the public form, with a case, a currency or a name of their choosing.
        same = (pledge.amount, pledge.currency, pledge.case_id, pledge.requested_public_name)
        if pledge.status == PledgeStatus.PENDING and recent and same == like_it:
            return pledge
    return start_pledge(
        email=ended.supporter.email,
        amount=ended.amount,
        currency=ended.currency,
        provider=ended.provider,
        case=case,
    )


#: A checkout page lives a day at Stripe (and in the demo): a pledge still pending without a
#: subscription a day on was left on that page.
CHECKOUT_LIFETIME = timedelta(days=1)
#: How long such a pledge is kept anyway: a checkout whose every event went missing is still
#: found by `sync-stripe` (run daily) through the pledge it names, well within this.
ABANDONED_KEPT = timedelta(days=30)


def is_abandoned(now: datetime) -> ColumnElement[bool]:
    """Nothing at the provider points to it: no subscription, no payment, no failed one (whose
    invoice names the pledge though its subscription's events went missing)."""
    return and_(
        Pledge.status == PledgeStatus.PENDING,
        Pledge.provider_subscription_id.is_(None),
        Pledge.created_at < now - CHECKOUT_LIFETIME,
        ~exists().where(Contribution.pledge_id == Pledge.id),
        ~exists().where(PaymentProblem.pledge_id == Pledge.id),
    )


def forget_abandoned_checkouts(now: datetime | None = None) -> int:
    """Delete the pledges of checkouts left unpaid long ago, and the public names they asked
    for: nothing was paid, and nobody sees them."""
    now = now or datetime.now(UTC)
    forgotten = db.session.execute(
        delete(Pledge)
        .where(is_abandoned(now), Pledge.created_at < now - ABANDONED_KEPT)
        .returning(Pledge.id)
    ).all()
    return len(forgotten)


def find_by_subscription(subscription_id: str) -> Pledge | None:
    return db.session.scalar(
        select(Pledge).where(Pledge.provider_subscription_id == subscription_id)
    )


def is_recorded(payment_id: str) -> bool:
    return (
        db.session.scalar(
            select(Contribution.id).where(Contribution.provider_payment_id == payment_id)
        )
        is not None
    )


def find_contribution_by_charge(charge_id: str) -> Contribution | None:
    return db.session.scalar(
        select(Contribution).where(Contribution.provider_charge_id == charge_id)
    )


def move(pledge: Pledge, status: PledgeStatus, at: datetime) -> bool:
    """Change status if the transition is allowed; a late or replayed event is ignored."""
    if pledge.status == status:
        return False
    if not pledge.can_move_to(status):
        log.info("pledge %s: ignoring %s -> %s", pledge.id, pledge.status, status)
        return False
    pledge.status = status
    if status == PledgeStatus.ACTIVE and pledge.activated_at is None:
        pledge.activated_at = at
        mail_outbox.enqueue(
            "welcome",
            recipient=pledge.supporter.email,
            dedupe_key=f"welcome:{pledge.id}",
            context={"pledge_id": pledge.id},
        )
    if status == PledgeStatus.CANCELED:
        pledge.canceled_at = at
        pledge.next_charge_at = None
    return True


def link_subscription(
    pledge: Pledge, *, subscription_id: str | None, customer_id: str | None
) -> None:
    """Remember the provider's ids for this pledge, whichever event brings them first."""
    if subscription_id and pledge.provider_subscription_id is None:
        pledge.provider_subscription_id = subscription_id
    if customer_id:
        pledge.provider_customer_id = pledge.provider_customer_id or customer_id
        if pledge.supporter.stripe_customer_id is None and pledge.provider == "stripe":
            pledge.supporter.stripe_customer_id = customer_id


def record_payment(
    pledge: Pledge,
    *,
    payment_id: str,
    gross: int,
    fee: int,
    paid_at: datetime,
    paid: int | None = None,
    charge_id: str | None = None,
    receipt_url: str | None = None,
) -> Contribution:
    """Record a paid invoice as a contribution, once, and activate the pledge it confirms.

    `gross` and `fee` are in the fund's ledger currency; `paid` is what the supporter paid in
    the pledge's currency (the same as `gross` when that is the ledger's).
    """
    db.session.flush()  # a pledge made in this transaction has its case id only once flushed
    contribution, new = _contribute(
        payment_id,
        supporter=pledge.supporter,
        pledge=pledge,
        paid_currency=pledge.currency,
        paid_amount=paid,
        provider=pledge.provider,
        earmarked_case_id=earmark_when_paid(pledge, paid_at),
        gross=gross,
        fee=fee,
        paid_at=paid_at,
        charge_id=charge_id,
        receipt_url=receipt_url,
    )
    if new and pledge.status in {PledgeStatus.PENDING, PledgeStatus.PAST_DUE}:
        move(pledge, PledgeStatus.ACTIVE, paid_at)
    return contribution


def earmark_when_paid(pledge: Pledge, paid_at: datetime) -> int | None:
    """The case the pledge was earmarked for when this payment was made: the one its first
    change after then moved away from, or else the one it has now."""
    moved = db.session.scalar(
        select(EarmarkChange)
        .where(EarmarkChange.pledge_id == pledge.id, EarmarkChange.changed_at > paid_at)
        .order_by(EarmarkChange.changed_at, EarmarkChange.id)
        .limit(1)
    )
    return moved.case_id_before if moved else pledge.case_id


def record_gift(
    supporter: Supporter,
    *,
    payment_id: str,
    provider: str,
    currency: str,
    gross: int,
    fee: int,
    paid_at: datetime,
    paid: int | None = None,
    case: Case | None = None,
    charge_id: str | None = None,
    receipt_url: str | None = None,
) -> Contribution:
    """A one-off gift: a contribution with no pledge, in the ledger like any other, once, and
    thanked for by email. `currency` is the one the supporter paid in; see `record_payment`."""
    contribution, new = _contribute(
        payment_id,
        supporter=supporter,
        pledge=None,
        paid_currency=currency,
        paid_amount=paid,
        provider=provider,
        earmarked_case_id=case.id if case else None,
        gross=gross,
        fee=fee,
        paid_at=paid_at,
        charge_id=charge_id,
        receipt_url=receipt_url,
    )
    if new:
        mail_outbox.enqueue(
            "gift-thanks",
            recipient=supporter.email,
            dedupe_key=f"gift-thanks:{contribution.id}",
            context={"contribution_id": contribution.id},
        )
    return contribution


def _contribute(
    payment_id: str,
    *,
    gross: int,
    fee: int,
    paid_amount: int | None,
    paid_currency: str,
    charge_id: str | None,
    **fields: object,
) -> tuple[Contribution, bool]:
    """The contribution for a provider's payment, made the first time it is seen."""
    found = select(Contribution).where(Contribution.provider_payment_id == payment_id)
    existing = db.session.scalar(found)
    if existing is not None:
        return existing, False
    if fields["supporter"].erased_at is not None:
        fields["receipt_url"] = None  # the provider's page names the donor; see accounts.erase
    ledger_currency = current_app.config["FUND_CURRENCY"]
    if paid_amount is None:
        if paid_currency != ledger_currency:
            raise ValueError(f"a payment in {paid_currency} needs its amount in {ledger_currency}")
        paid_amount = gross
    # The same payment may reach us twice at once (a webhook, and the sync or a second event):
    # the later one takes the first's row.
    contribution = add_unless_taken(
        lambda: Contribution(
            provider_payment_id=payment_id,
            provider_charge_id=charge_id,
            currency=ledger_currency,
            paid_amount=paid_amount,
            paid_currency=paid_currency,
            gross=gross,
            fee=fee,
            net=gross - fee,
            **fields,
        )
    )
    if contribution is None:
        return db.session.scalar(found), False
    ledger.place_late_contribution(contribution)
    return contribution, True


def of_supporter(supporter: Supporter) -> list[Pledge]:
    """The pledges a supporter sees: a checkout never completed is not a pledge yet."""
    return [pledge for pledge in supporter.pledges if pledge.status != PledgeStatus.PENDING]
