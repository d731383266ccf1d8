"""Deciding which reminders are due and queuing them; the outbox sends them. Run from cron
every hour: a dedupe key names each reminder (the pledge and the renewal's day), so running
twice, at another hour, or after an outage sends nothing twice and skips nothing still ahead."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution, PaymentProblem, Pledge, PledgeStatus, Supporter
from pledges.models.types import utcnow
from pledges.services import digest, mail_outbox, payment_problems


@dataclass
class ReminderReport:
    upcoming: int = 0
    dunning: int = 0
    card_expiring: int = 0
    digests: int = 0


def upcoming_key(pledge: Pledge) -> str:
    """One reminder per renewal, whoever notices it first: our schedule or Stripe's
    `invoice.upcoming`."""
    return f"upcoming:{pledge.id}:{pledge.next_charge_at.date().isoformat()}"


def queue_upcoming_charge(pledge: Pledge) -> bool:
    if pledge.next_charge_at is None or not pledge.supporter.wants_reminders:
        return False
    row = mail_outbox.enqueue(
        "upcoming-charge",
        recipient=pledge.supporter.email,
        dedupe_key=upcoming_key(pledge),
        context={"pledge_id": pledge.id, "charge_on": pledge.next_charge_at.isoformat()},
    )
    return row is not None


def queue_due(now: datetime | None = None) -> ReminderReport:
    """Queue every reminder now due; what was queued before is left alone."""
    now = now or utcnow()
    report = ReminderReport()
    horizon = now + timedelta(days=current_app.config["REMINDER_DAYS"])
    renewing = (
        select(Pledge)
        .join(Supporter, Supporter.id == Pledge.supporter_id)
        .where(
            Pledge.status == PledgeStatus.ACTIVE,
            Pledge.ends_at.is_(None),
            Pledge.next_charge_at > now,
            Pledge.next_charge_at <= horizon,
            Supporter.wants_reminders,
            Supporter.erased_at.is_(None),
        )
        .order_by(Pledge.id)
        .execution_options(yield_per=1000)
    )
    for pledge in db.session.scalars(renewing):
        report.upcoming += queue_upcoming_charge(pledge)
    report.dunning = _queue_dunning(now)
    report.card_expiring = _queue_card_expiring(now)
    if now.day <= DIGEST_DAYS:
        report.digests = queue_digests(previous_month(now.date()))
    return report


#: The digest goes out in the first days of a month; a run in that window catches up.
DIGEST_DAYS = 7


def previous_month(day: date) -> date:
    return date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)


def queue_digests(month: date) -> int:
    """One digest per supporter who gave that month and keeps it on, queued in one statement;
    the key names the month, so the first days' hourly runs queue each once."""
    start, end = digest.month_bounds(month)
    givers = (
        select(Supporter.id, Supporter.email)
        .where(
            Supporter.wants_digest,
            Supporter.erased_at.is_(None),
            Supporter.id.in_(
                select(Contribution.supporter_id).where(
                    Contribution.paid_at >= start, Contribution.paid_at < end, digest.KEPT > 0
                )
            ),
        )
        .order_by(Supporter.id)
        .execution_options(yield_per=5000)
    )
    label = f"{month:%Y-%m}"
    queued = 0
    for batch in db.session.execute(givers).partitions():
        rows = [
            (email, f"digest:{supporter_id}:{label}", {"month": label})
            for supporter_id, email in batch
        ]
        queued += mail_outbox.enqueue_many("digest", rows)
    return queued


def _queue_card_expiring(now: datetime) -> int:
    """In the month before the saved card expires, for supporters with a live pledge."""
    following = next_month(now.date())
    expiring = select(Supporter).where(
        Supporter.card_exp_year == following.year,
        Supporter.card_exp_month == following.month,
        Supporter.erased_at.is_(None),
        Supporter.id.in_(
            select(Pledge.supporter_id).where(
                Pledge.status.in_([PledgeStatus.ACTIVE, PledgeStatus.PAUSED])
            )
        ),
    )
    queued = 0
    for supporter in db.session.scalars(expiring):
        row = mail_outbox.enqueue(
            "card-expiring",
            recipient=supporter.email,
            dedupe_key=f"card-expiring:{supporter.id}:{following:%Y-%m}",
            context={"expires": f"{following:%Y-%m}"},
        )
        queued += row is not None
    return queued


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _queue_dunning(now: datetime) -> int:
    """Ask again about unpaid failed payments, 3 and 7 days on. After an outage only the latest
    day due is sent: two reminders of the same failure at once help nobody."""
    queued = 0
    unpaid = (
        select(PaymentProblem)
        .join(Pledge, Pledge.id == PaymentProblem.pledge_id)
        .where(
            PaymentProblem.kind == "failed",
            PaymentProblem.resolved_at.is_(None),
            Pledge.status == PledgeStatus.PAST_DUE,
        )
    )
    for problem in db.session.scalars(unpaid):
        due = [day for day in payment_problems.DUNNING_DAYS
               if problem.occurred_at + timedelta(days=day) <= now]  # fmt: skip
        if due:
            queued += payment_problems.queue_dunning(problem, due[-1])
    return queued
