"""What a supporter changes on their own pledge. Each change reaches the payment provider
first, is recorded here only if the provider took it, and is confirmed by email. Asking for
what is already so changes nothing and sends nothing: a repeated request is harmless."""

import uuid
from datetime import datetime

from pledges.extensions import db
from pledges.models import Case, CaseStatus, EarmarkChange, Pledge, PledgeStatus
from pledges.models.types import utcnow
from pledges.payments import gateway
from pledges.services import mail_outbox, payment_problems, pledges
from pledges.services.rhythm import add_months, charge_day

PAUSE_MONTHS = (1, 2, 3)
#: Pledges a supporter can still change; a canceled one can only be restarted.
LIVE = (PledgeStatus.ACTIVE, PledgeStatus.PAST_DUE, PledgeStatus.PAUSED)


class NotPossible(ValueError):
    """The change does not apply to the pledge as it stands (e.g. pausing a canceled one)."""


def _require(pledge: Pledge, *statuses: PledgeStatus) -> None:
    if pledge.status not in statuses:
        raise NotPossible(f"a {pledge.status} pledge cannot do that")


def change_amount(pledge: Pledge, amount: int) -> bool:
    _require(pledge, *LIVE)
    if pledge.ends_at is not None:
        raise NotPossible("restart the pledge first")
    if amount == pledge.amount:
        return False
    gateway().change_amount(pledge, amount)
    before, pledge.amount = pledge.amount, amount
    _confirm(pledge, "amount", before=before)
    return True


def pause(pledge: Pledge, months: int, now: datetime | None = None) -> bool:
    """Skip the next `months` charges; charging starts again by itself after them."""
    if months not in PAUSE_MONTHS:
        raise NotPossible("a pause is one, two or three months")
    if pledge.status == PledgeStatus.PAUSED:
        return False  # a repeated request; a longer pause is a resume, then a new pause
    _require(pledge, PledgeStatus.ACTIVE)
    if pledge.ends_at is not None:
        raise NotPossible("a pledge that is ending cannot be paused")
    now = now or utcnow()
    # An invoice made before the pause is collected anyway: the pause counts from the next.
    renews = gateway().renews_next(pledge) or pledge.next_charge_at or now
    until = add_months(renews, months, day=charge_day(pledge))
    gateway().pause(pledge, until)
    pledge.status, pledge.paused_until, pledge.next_charge_at = PledgeStatus.PAUSED, until, until
    _confirm(pledge, "paused", months=months)
    return True


def resume(pledge: Pledge, now: datetime | None = None) -> bool:
    """Charge again from the next date of the pledge's own monthly rhythm."""
    if pledge.status != PledgeStatus.PAUSED:
        return False
    now = now or utcnow()
    gateway().resume(pledge)
    next_charge = charges_again_on(pledge, now)
    pledge.status, pledge.paused_until = PledgeStatus.ACTIVE, None
    pledge.next_charge_at = None if pledge.ends_at else next_charge
    _confirm(pledge, "resumed")
    return True


def is_ending(pledge: Pledge) -> bool:
    """Canceled, or set to end with its paid period: a cancellation has nothing left to do."""
    return pledge.status == PledgeStatus.CANCELED or pledge.ends_at is not None


def cancel(pledge: Pledge, reason: str | None = None, now: datetime | None = None) -> bool:
    """End the pledge when the period already paid for ends; nothing more is charged. A pledge
    whose payment failed has no paid period left: it ends now, and the failed charge is not
    retried."""
    if is_ending(pledge):
        return False
    _require(pledge, *LIVE)
    now = now or utcnow()
    pledge.cancel_reason = (reason or "").strip()[:80] or None
    if pledge.status == PledgeStatus.PAST_DUE:
        gateway().end_now(pledge)
        pledges.move(pledge, PledgeStatus.CANCELED, now)
        payment_problems.resolve_for(pledge, now)
    else:
        gateway().cancel_at_period_end(pledge, True)
        pledge.ends_at = ends_if_canceled(pledge, now)
        pledge.next_charge_at = None
    _confirm(pledge, "canceled")
    return True


def charges_again_on(pledge: Pledge, now: datetime | None = None) -> datetime:
    """When a paused pledge resumed now charges next: the next date of its monthly rhythm,
    nothing at once."""
    return _next_in_rhythm(pledge, pledge.paused_until, now or utcnow())


def ends_if_canceled(pledge: Pledge, now: datetime | None = None) -> datetime | None:
    """When the pledge would end if canceled now: the end of the period paid for, which for a
    paused pledge comes before the pause's end. None for a pledge whose payment failed: it has
    no paid period left, and ends at once."""
    if pledge.status == PledgeStatus.PAST_DUE:
        return None
    return _next_in_rhythm(pledge, pledge.next_charge_at or pledge.paused_until, now or utcnow())


def _next_in_rhythm(pledge: Pledge, anchor: datetime | None, now: datetime) -> datetime:
    """The first date of the pledge's monthly rhythm after now (a pause does not move the
    rhythm: its months are simply not charged)."""
    if anchor is None:
        return add_months(now, 1)
    day = charge_day(pledge)
    next_date = anchor
    while (earlier := add_months(next_date, -1, day=day)) > now:
        next_date = earlier
    return next_date


def restart(pledge: Pledge) -> bool:
    """Undo a cancellation that has not taken effect yet. (A pledge that has ended starts again
    through a new checkout: see `pledges.start_pledge`.)"""
    _require(pledge, *LIVE)
    if pledge.ends_at is None:
        return False
    gateway().cancel_at_period_end(pledge, False)
    if pledge.status != PledgeStatus.PAUSED:
        pledge.next_charge_at = pledge.ends_at
    pledge.ends_at, pledge.cancel_reason = None, None
    _confirm(pledge, "restarted")
    return True


def change_earmark(pledge: Pledge, case: Case | None) -> bool:
    """Where future payments go; what was paid stays where it went."""
    _require(pledge, *LIVE)
    if pledge.ends_at is not None:
        raise NotPossible("restart the pledge first")
    if case is not None and case.status != CaseStatus.OPEN:
        raise NotPossible("only an open case can be chosen")
    if pledge.case_id == (case.id if case else None):
        return False
    db.session.add(EarmarkChange(pledge_id=pledge.id, case_id_before=pledge.case_id))
    pledge.case = case
    _confirm(pledge, "earmark")
    return True


def _confirm(pledge: Pledge, change: str, **details: object) -> None:
    """Queue the confirmation with the pledge as this change left it: sent later, after more
    changes maybe, it must still describe this one."""
    db.session.flush()

    def day(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    state = {
        "amount": pledge.amount,
        "currency": pledge.currency,
        "next_charge_at": day(pledge.next_charge_at),
        "paused_until": day(pledge.paused_until),
        "ends_at": day(pledge.ends_at),
        "case": pledge.case.title if pledge.case else None,
    }
    mail_outbox.enqueue(
        "pledge-changed",
        recipient=pledge.supporter.email,
        dedupe_key=f"pledge-changed:{pledge.id}:{uuid.uuid4().hex}",
        context={"pledge_id": pledge.id, "change": change, **state, **details},
    )
