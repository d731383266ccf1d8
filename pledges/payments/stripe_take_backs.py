"""Money Stripe takes back from a payment (a refund, a dispute) and gives back (a dispute won,
a refund that failed), whichever order the events come in.

A refund's event may be handled before the event of the payment it refunds: the refund is then
noted (`EarlyTakeBack`) and the payment, once recorded, takes it off itself. Both sides look
under the ledger lock, so a payment being recorded at the same moment is either found by the
refund or finds its note.
"""

from typing import Any

from sqlalchemy import text

from pledges.extensions import db
from pledges.models import Contribution, EarlyTakeBack
from pledges.payments.stripe_gateway import ChargeFacts, Disputes, StripeGateway, id_of
from pledges.services import ledger, organizer_alerts, pledges
from pledges.services.ledger.common import dialect

#: The first key of the per-charge advisory locks (the ledger's own lock is a single key, a
#: space of its own).
CHARGE_LOCK_SPACE = 7_301

#: A refund that failed at the fund's own request leaves nobody waiting for it.
STOPPED_BY_THE_FUND = "merchant_request"


def charge_refunded(event_charge: dict[str, Any], gateway: StripeGateway) -> None:
    """A refund made (`charge.refunded`, the charge)."""
    _charge_holds(event_charge.get("id") or "", gateway)


def refund_changed(event_refund: dict[str, Any], gateway: StripeGateway) -> None:
    """A refund's status changed (`refund.updated`, the refund): one that failed, or was
    canceled before it went out, left the money with the fund, which may spend it again."""
    _charge_holds(id_of(event_refund.get("charge")) or "", gateway)
    tell_if_failed(event_refund)


def tell_if_failed(refund: dict[str, Any]) -> int:
    """The organizers hear of a refund of one of our payments that failed: the books take the
    money back by themselves, but the supporter may still be waiting for it. Only someone with
    the whole story in Stripe's dashboard can tell (a refund made again since, a chargeback
    the supporter opened meanwhile, which is why Stripe fails a refund, and its outcome), so
    the email says what failed and asks them to look. How many emails went out."""
    if refund.get("status") != "failed" or refund.get("failure_reason") == STOPPED_BY_THE_FUND:
        return 0
    contribution = pledges.find_contribution_by_charge(id_of(refund.get("charge")) or "")
    if contribution is None:
        return 0  # not ours; or not recorded yet, and the daily sync-stripe tells them later
    return organizer_alerts.refund_failed(
        contribution,
        refund_id=refund["id"],
        amount=refund.get("amount", 0),
        reason=refund.get("failure_reason") or "",
    )


def dispute_changed(event_dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """A dispute was opened, escalated, won, lost, or its money given back. A chargeback takes
    the money back at once, an inquiry (`warning_*`) takes nothing, a dispute won gives it back
    and a lost one has taken it for good. A lost dispute's closing is heard too by an endpoint
    that never received the withdrawal (`funds_withdrawn` is not among the events an older
    endpoint was set up with)."""
    _charge_holds(id_of(event_dispute.get("charge")) or "", gateway)


def settle_new_payment(contribution: Contribution, charge: ChargeFacts) -> None:
    """A payment just recorded (or found recorded by a second event of the same payment): take
    off what its charge already says went back (its refund's own event may come later, or never
    again), and what a refund or dispute handled before it noted. Its notes are then done with.
    These facts may be older than an event already applied to the payment, so they only ever
    grow what was taken back: a refund that failed or a dispute won in between is set right
    by its own event or by `sync-stripe`."""
    if charge.refunded or charge.disputes.held:
        ledger.take_back(contribution, refunded=charge.refunded, disputed=charge.disputes.held)
    contribution.dispute_fees = max(contribution.dispute_fees, charge.disputes.fees)
    if not contribution.provider_charge_id:
        return
    ledger.lock()
    early = db.session.get(EarlyTakeBack, contribution.provider_charge_id)
    if early is None:
        return
    ledger.take_back(contribution, refunded=early.refunded, disputed=early.disputed)
    contribution.dispute_fees = max(contribution.dispute_fees, early.dispute_fees)
    db.session.delete(early)


def _charge_holds(charge_id: str, gateway: StripeGateway) -> None:
    """Whichever refund or dispute event it is, the payment holds back what all the charge's
    refunds and disputes hold now, read afresh: one rule, however many there are, in whatever
    order their events come. Both, as a dispute on a refunded charge counts only what the
    refunds left (a refund that fails under a chargeback leaves the chargeback whole).

    Handlers of one charge take turns from before they read it: two refunds a moment apart,
    handled at once, must not have the first read written last."""
    if not charge_id:
        return
    if dialect() == "postgresql":
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), hashtext(:charge))"),
            {"space": CHARGE_LOCK_SPACE, "charge": charge_id},
        )
    charge = gateway.fetch_charge(charge_id)
    _taken_back(
        charge_id,
        refunded=gateway.withdrawn_by_refunds(charge),
        disputes=gateway.disputes_on(charge),
    )


def _taken_back(charge_id: str, *, refunded: int, disputes: Disputes) -> None:
    """Set what the charge's refunds and disputes hold now on its payment, or in a note for the
    payment if that is not recorded yet."""
    ledger.lock()
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is not None:
        ledger.take_back(contribution, refunded=refunded, disputed=disputes.held, exactly=True)
        contribution.dispute_fees = disputes.fees
        return
    early = db.session.get(EarlyTakeBack, charge_id)
    if early is None:
        early = EarlyTakeBack(charge_id=charge_id, refunded=0, disputed=0, dispute_fees=0)
        db.session.add(early)
    early.refunded, early.disputed, early.dispute_fees = refunded, disputes.held, disputes.fees
