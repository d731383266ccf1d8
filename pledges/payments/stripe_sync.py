"""`flask pledges sync-stripe`: bring pledges and payments in line with Stripe, whatever
webhooks were missed.

It walks Stripe's own lists and hands each object to the functions the webhooks use
(`stripe_events`), which are idempotent on Stripe's ids: running it twice, or while a webhook
for the same object arrives, changes nothing twice. Each object is settled in its own
transaction, so a crash midway keeps what was done before it. Webhooks are not written to the
audit log (which is for organizers' actions), so neither is this; each change is logged.
"""

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pledges.extensions import begin_writing, db
from pledges.models import Contribution, PaymentProblem, Pledge, PledgeStatus
from pledges.payments.stripe_events import (
    STATUS_FROM_STRIPE,
    apply_paid_invoice,
    gift_paid,
    invoice_closed,
    invoice_problem,
    pledge_for,
    subscription_of,
    sync_subscription,
)
from pledges.payments.stripe_gateway import StripeGateway, id_of
from pledges.payments.stripe_take_backs import charge_refunded, dispute_changed, tell_if_failed
from pledges.services import pledges

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Called once for each Stripe object looked at, with the name of the walk it belongs to.
Progress = Callable[[str], None]

#: How far back invoices and refunds are looked at unless told: a month of renewals
#: with room to spare (Stripe itself retries a webhook for three days).
DEFAULT_SINCE_DAYS = 35

#: How far back disputes are always looked at: a chargeback may come up to 120 days after the
#: payment, and an inquiry before it, so this covers one opened as an inquiry and escalated.
DISPUTE_DAYS = 180

#: How far back refunds are always looked at: a card refund that fails does so within weeks of
#: being made, and the organizers must hear of it even when the daily run looks at three days.
REFUND_DAYS = 35

#: How many unknown Stripe ids the summary names before it only counts them.
UNKNOWN_SHOWN = 20


@dataclass
class SyncReport:
    """What a run looked at and what it changed; counts only what was committed."""

    subscriptions_checked: int = 0
    pledges_updated: int = 0
    #: Why pledges changed ("canceled", "amount changed", ...), a pledge maybe for several.
    pledge_changes: Counter[str] = field(default_factory=Counter)
    invoices_checked: int = 0
    invoices_recorded: int = 0
    gifts_checked: int = 0
    gifts_recorded: int = 0
    refunds_applied: int = 0
    disputes_applied: int = 0
    #: Emails queued to tell organizers of refunds that failed (once each, however many runs).
    failed_refunds_told: int = 0
    problems_noted: int = 0
    problems_resolved: int = 0
    #: Stripe ids of subscriptions, paid invoices and gifts' checkouts that match nobody of ours.
    unknown: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Why the run stopped before the end (Stripe unreachable, say), if it did.
    stopped: str | None = None

    @property
    def changes(self) -> int:
        return (
            self.pledges_updated
            + self.invoices_recorded
            + self.gifts_recorded
            + self.refunds_applied
            + self.disputes_applied
            + self.problems_noted
            + self.problems_resolved
            + self.failed_refunds_told
        )

    def add(self, other: "SyncReport") -> None:
        for each in fields(self):
            mine = getattr(self, each.name)
            if isinstance(mine, int | Counter | list):
                setattr(self, each.name, mine + getattr(other, each.name))

    def lines(self) -> list[str]:
        """The summary an operator reads, one line a kind of object."""
        why = ", ".join(
            f"{count} {reason}" for reason, count in sorted(self.pledge_changes.items())
        )
        unknown = ", ".join(self.unknown[:UNKNOWN_SHOWN])
        if len(self.unknown) > UNKNOWN_SHOWN:
            unknown += f" and {len(self.unknown) - UNKNOWN_SHOWN} more"
        changes = self.changes
        return [
            f"subscriptions checked {self.subscriptions_checked}, "
            f"pledges updated {self.pledges_updated}" + (f" ({why})" if why else ""),
            f"paid invoices checked {self.invoices_checked}, recorded {self.invoices_recorded}",
            f"one-off gifts checked {self.gifts_checked}, recorded {self.gifts_recorded}",
            f"refunds applied {self.refunds_applied}, disputes applied {self.disputes_applied}",
            f"emails to organizers about failed refunds {self.failed_refunds_told}",
            f"payment problems noted {self.problems_noted}, resolved {self.problems_resolved}",
            f"unknown to us {len(self.unknown)}" + (f": {unknown}" if unknown else ""),
            f"{changes} change{'' if changes == 1 else 's'}",
        ]


def sync_start(day: datetime | None = None) -> datetime:
    """The start of the given day in UTC (a date on the command line names no zone), or of the
    day `DEFAULT_SINCE_DAYS` ago."""
    if day is None:
        day = datetime.now(UTC) - timedelta(days=DEFAULT_SINCE_DAYS)
    return day.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=UTC)


def sync(
    gateway: StripeGateway, *, since: datetime | None = None, progress: Progress | None = None
) -> SyncReport:
    """Walk every subscription (a cancellation comes at any age), and the invoices, refunds
    and disputes created since `since`; apply what our database does not know yet."""
    report = SyncReport()
    db.session.rollback()  # each object starts a fresh transaction
    try:
        # Subscriptions first: the invoices' checks below read the pledges' states.
        for subscription in _walked(gateway.subscriptions(), "subscriptions", progress):
            _settle(report, subscription["id"], _subscription, subscription, gateway)
        for invoice in _walked(gateway.invoices(status="paid", since=since), "invoices", progress):
            _settle(report, invoice["id"], _paid_invoice, invoice, gateway)
        # Gifts before refunds and disputes, which may be of a gift recorded here.
        for session in _walked(gateway.completed_checkouts(since=since), "gifts", progress):
            _settle(report, session["id"], _gift_session, session, gateway)
        for invoice in _walked(gateway.invoices(status="open", since=since), "failed", progress):
            _settle(report, invoice["id"], _unpaid_invoice, invoice, gateway)
        for problem_id in _walked(_open_problems(), "problems", progress):
            _settle(report, f"payment problem {problem_id}", _open_problem, problem_id, gateway)
        refunds = list(gateway.refunds(since=refunds_since(since)))
        for charge_id in _walked(_charges_of(refunds), "refunds", progress):
            _settle(report, charge_id, _refunded_charge, charge_id, gateway)
        failed = (refund for refund in refunds if refund.get("status") == "failed")
        for refund in _walked(failed, "failed refunds", progress):
            _settle(report, refund["id"], _failed_refund, refund, gateway)
        disputes = gateway.disputes(since=disputes_since(since))
        for dispute in _walked(disputes, "disputes", progress):
            _settle(report, dispute["id"], _dispute, dispute, gateway)
    except stripe.StripeError as error:
        db.session.rollback()
        log.warning("sync-stripe stopped: %s", error)
        report.stopped = error.user_message or str(error)
    return report


def disputes_since(since: datetime | None) -> datetime | None:
    """Disputes are walked further back than the rest: an inquiry opened weeks ago may become
    a chargeback today, and its creation date is the inquiry's."""
    return _at_least(since, DISPUTE_DAYS)


def refunds_since(since: datetime | None) -> datetime | None:
    """Refunds too: one may fail weeks after it was made (a closed card), dated when made."""
    return _at_least(since, REFUND_DAYS)


def _at_least(since: datetime | None, days: int) -> datetime | None:
    if since is None:
        return None
    return min(since, datetime.now(UTC) - timedelta(days=days))


def _walked(items: Iterable[T], stage: str, progress: Progress | None) -> Iterator[T]:
    for item in items:
        if progress is not None:
            progress(stage)
        yield item


def _settle(
    report: SyncReport,
    label: str,
    work: Callable[[Any, StripeGateway, SyncReport], None],
    item: Any,
    gateway: StripeGateway,
) -> None:
    """Do one object's work in its own transaction, and count it once it is committed.

    A unique key broken means a webhook did the same at the same moment: its transaction won,
    and looking again finds the work done. Stripe's own errors stop the run (the next object
    would meet them too); anything else is noted and the run goes on.
    """
    for attempt in (1, 2):
        done = SyncReport()
        begin_writing()
        try:
            work(item, gateway, done)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            if attempt == 1:
                continue
            report.errors.append(f"{label}: changed by someone else twice; run again")
            return
        except stripe.StripeError:
            db.session.rollback()
            raise
        except Exception as error:  # noqa: BLE001 - one object's trouble does not stop the rest
            db.session.rollback()
            log.exception("sync of %s failed", label)
            report.errors.append(f"{label}: {error}")
            return
        report.add(done)
        return


def _subscription(subscription: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    done.subscriptions_checked += 1
    subscription_id = subscription["id"]
    pledge = pledge_for(subscription_id, subscription.get("metadata"))
    if pledge is None:
        done.unknown.append(subscription_id)
        return
    if pledge.provider_subscription_id not in (None, subscription_id):
        # Two checkouts paid for one pledge: a person should look, and maybe refund one.
        done.unknown.append(f"{subscription_id} (pledge {pledge.id} has another)")
        return
    if pledge.status == PledgeStatus.CANCELED and (
        STATUS_FROM_STRIPE.get(subscription["status"]) == PledgeStatus.CANCELED
    ):
        return  # ended on both sides: nothing can change, and no need to ask Stripe again
    before = _facts(pledge)
    pledges.link_subscription(
        pledge, subscription_id=subscription_id, customer_id=id_of(subscription.get("customer"))
    )
    sync_subscription(pledge, gateway, subscription_id)
    reasons = _what_changed(before, _facts(pledge))
    if reasons:
        log.info("sync-stripe: pledge %s %s", pledge.id, ", ".join(reasons))
        done.pledges_updated += 1
        done.pledge_changes.update(reasons)


def _facts(pledge: Pledge) -> dict[str, object]:
    return {
        "status": pledge.status,
        "amount": pledge.amount,
        "ends_at": pledge.ends_at,
        "paused_until": pledge.paused_until,
        "next_charge_at": pledge.next_charge_at,
        "subscription": pledge.provider_subscription_id,
    }


def _what_changed(before: dict[str, object], after: dict[str, object]) -> list[str]:
    reasons = []
    if before["status"] != after["status"]:
        reasons.append(str(after["status"]).replace("_", " "))
    if before["amount"] != after["amount"]:
        reasons.append("amount changed")
    if before["ends_at"] != after["ends_at"]:
        reasons.append("set to end" if after["ends_at"] else "no longer ending")
    if before["subscription"] != after["subscription"]:
        reasons.append("linked")
    if before["paused_until"] != after["paused_until"] and not reasons:
        reasons.append("pause changed")
    if before["next_charge_at"] != after["next_charge_at"] and not reasons:
        reasons.append("next charge moved")
    return reasons


def _paid_invoice(invoice: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    done.invoices_checked += 1
    if invoice.get("amount_paid", 0) <= 0 or pledges.is_recorded(invoice["id"]):
        return  # nothing was paid (a free month), or the webhook did its job
    if pledge_for(*subscription_of(invoice)) is None:
        done.unknown.append(invoice["id"])
        return
    unpaid = _unresolved(invoice["id"])
    apply_paid_invoice(invoice, gateway)  # which also resolves its payment problem, if any
    log.info("sync-stripe: recorded invoice %s", invoice["id"])
    done.invoices_recorded += 1
    done.problems_resolved += int(unpaid and not _unresolved(invoice["id"]))


def _gift_session(session: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    """A one-off gift paid whose checkout events never came (a subscription's checkout is an
    invoice's business, above)."""
    if session.get("mode") != "payment":
        return
    done.gifts_checked += 1
    intent_id = id_of(session.get("payment_intent"))
    if session.get("payment_status") != "paid" or not intent_id or pledges.is_recorded(intent_id):
        return  # a bank debit still on its way, or the webhook did its job
    if not str((session.get("metadata") or {}).get("gift_for_supporter") or "").isdigit():
        done.unknown.append(session["id"])
        return
    gift_paid(session, gateway)
    if pledges.is_recorded(intent_id):
        log.info("sync-stripe: recorded the gift of checkout %s", session["id"])
        done.gifts_recorded += 1
    else:  # its supporter is no longer in our database
        done.unknown.append(session["id"])


def _unpaid_invoice(invoice: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    """A renewal tried and declined whose event never came: noted as the webhook would.

    Only for a pledge Stripe now holds as past due, so that an old unpaid invoice of a pledge
    that ended since does not send a failed-payment email. A charge that waits for 3-D Secure
    looks the same from here and is noted as failed; its own email needs its own event.
    """
    if not invoice.get("attempt_count"):
        return  # not tried yet
    pledge = pledge_for(*subscription_of(invoice))
    if pledge is None or pledge.status != PledgeStatus.PAST_DUE:
        return
    known = select(PaymentProblem.id).where(PaymentProblem.invoice_id == invoice["id"])
    if db.session.scalar(known) is not None:
        return  # noted already, or paid and resolved since
    invoice_problem("failed")(invoice, gateway)
    log.info("sync-stripe: payment problem noted for invoice %s", invoice["id"])
    done.problems_noted += 1


def _unresolved(invoice_id: str) -> bool:
    problem = select(PaymentProblem.id).where(
        PaymentProblem.invoice_id == invoice_id, PaymentProblem.resolved_at.is_(None)
    )
    return db.session.scalar(problem) is not None


def _open_problems() -> list[int]:
    ids = db.session.scalars(
        select(PaymentProblem.id)
        .join(Pledge, Pledge.id == PaymentProblem.pledge_id)
        .where(PaymentProblem.resolved_at.is_(None), Pledge.provider == "stripe")
        .order_by(PaymentProblem.id)
    ).all()
    db.session.rollback()
    return list(ids)


def _open_problem(problem_id: int, gateway: StripeGateway, done: SyncReport) -> None:
    """A problem whose invoice was paid, voided or given up on since, and we missed it."""
    problem = db.session.get(PaymentProblem, problem_id)
    if problem is None or problem.resolved_at is not None:
        return
    invoice = gateway.fetch_invoice(problem.invoice_id)
    if invoice.get("status") == "paid":
        recorded = pledges.is_recorded(invoice["id"])
        apply_paid_invoice(invoice, gateway)
        done.invoices_recorded += int(not recorded and pledges.is_recorded(invoice["id"]))
    elif invoice.get("status") in {"void", "uncollectible"}:
        invoice_closed(invoice, gateway)
    else:
        return
    if not _unresolved(invoice["id"]):
        log.info("sync-stripe: payment problem for invoice %s resolved", invoice["id"])
        done.problems_resolved += 1


def _charges_of(refunds: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Each refunded charge once: the charge holds the total refunded, all refunds together."""
    seen: set[str] = set()
    for refund in refunds:
        charge_id = id_of(refund.get("charge"))
        if charge_id and charge_id not in seen:
            seen.add(charge_id)
            yield charge_id


def _refunded_charge(charge_id: str, gateway: StripeGateway, done: SyncReport) -> None:
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is None:
        return  # not ours, or its payment is unknown (and listed as such)
    before = _held_back(contribution)
    charge_refunded({"id": charge_id}, gateway)
    _count_held_back(contribution, before, done)


def _failed_refund(refund: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    done.failed_refunds_told += tell_if_failed(refund)


def _dispute(dispute: dict[str, Any], gateway: StripeGateway, done: SyncReport) -> None:
    contribution = pledges.find_contribution_by_charge(id_of(dispute.get("charge")) or "")
    if contribution is None:
        return
    before = _held_back(contribution)
    dispute_changed(dispute, gateway)
    _count_held_back(contribution, before, done)


def _held_back(contribution: Contribution) -> tuple[int, int]:
    """What its refunds hold, and its disputes (within the payment and beyond it, which a
    refund's failure moves from one to the other)."""
    return (
        contribution.refunded_paid,
        contribution.disputed_paid + contribution.disputed_beyond_paid,
    )


def _count_held_back(contribution: Contribution, before: tuple[int, int], done: SyncReport) -> None:
    """Count what reading a charge changed, whichever walk read it: the refunds' walk reads its
    disputes too, so the disputes' walk may find them applied."""
    refunds, disputes = _held_back(contribution)
    if refunds != before[0]:
        log.info("sync-stripe: contribution %s refunded", contribution.id)
        done.refunds_applied += 1
    if disputes != before[1]:
        log.info("sync-stripe: contribution %s disputed", contribution.id)
        done.disputes_applied += 1
