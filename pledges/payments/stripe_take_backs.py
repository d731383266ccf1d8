"""Money Stripe takes back from a payment (a refund, a dispute) and gives back (a dispute won,
a refund that failed), whichever order the events come in.

A refund's event may be handled before the event of the payment it refunds: the refund is then
noted (`EarlyTakeBack`) and the payment, once recorded, takes it off itself. Both sides look
under the ledger lock, so a payment being recorded at the same moment is either found by the
refund or finds its note.
"""

from typing import Any

from pledges.extensions import db
from pledges.models import Contribution, EarlyTakeBack
from pledges.payments.stripe_gateway import ChargeFacts, StripeGateway, id_of
from pledges.services import ledger, pledges


def charge_refunded(event_charge: dict[str, Any], gateway: StripeGateway) -> None:
    """A refund made (`charge.refunded`, the charge)."""
    _refunds_hold(event_charge.get("id") or "", gateway)


def refund_changed(event_refund: dict[str, Any], gateway: StripeGateway) -> None:
    """A refund's status changed (`refund.updated`, the refund): one that failed, or was
    canceled before it went out, left the money with the fund, which may spend it again."""
    _refunds_hold(id_of(event_refund.get("charge")) or "", gateway)


def dispute_changed(event_dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """A dispute was opened, escalated, won, lost, or its money given back. A chargeback takes
    the money back at once, an inquiry (`warning_*`) takes nothing, a dispute won gives it back
    and a lost one has taken it for good; but a charge may have several disputes, so whichever
    event it is, the payment holds back what all of them hold now. A lost dispute's closing is
    heard too by an endpoint that never received the withdrawal (`funds_withdrawn` is not among
    the events an older endpoint was set up with)."""
    charge_id = id_of(event_dispute.get("charge")) or ""
    if charge_id:
        held = gateway.withdrawn_by_disputes(gateway.fetch_charge(charge_id))
        _taken_back(charge_id, disputed=held)


def settle_new_payment(contribution: Contribution, charge: ChargeFacts) -> None:
    """A payment just recorded (or found recorded by a second event of the same payment): take
    off what its charge already says went back (its refund's own event may come later, or never
    again), and what a refund or dispute handled before it noted. Its notes are then done with.
    These facts may be older than an event already applied to the payment, so they only ever
    grow what was taken back: a refund that failed or a dispute won in between is set right
    by its own event or by `sync-stripe`."""
    if charge.refunded or charge.disputed:
        ledger.take_back(contribution, refunded=charge.refunded, disputed=charge.disputed)
    if not contribution.provider_charge_id:
        return
    ledger.lock()
    early = db.session.get(EarlyTakeBack, contribution.provider_charge_id)
    if early is None:
        return
    ledger.take_back(contribution, refunded=early.refunded, disputed=early.disputed)
    db.session.delete(early)


def _refunds_hold(charge_id: str, gateway: StripeGateway) -> None:
    if charge_id:
        charge = gateway.fetch_charge(charge_id)
        _taken_back(charge_id, refunded=gateway.withdrawn_by_refunds(charge))


def _taken_back(
    charge_id: str, *, refunded: int | None = None, disputed: int | None = None
) -> None:
    """Set what the charge's refunds or its disputes hold now (read afresh, all of them: one
    rule, however many, in whatever order their events come), on its payment, or in a note for
    the payment if that is not recorded yet."""
    ledger.lock()
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is not None:
        ledger.take_back(contribution, refunded=refunded, disputed=disputed, exactly=True)
        return
    early = db.session.get(EarlyTakeBack, charge_id)
    if early is None:
        early = EarlyTakeBack(charge_id=charge_id, refunded=0, disputed=0)
        db.session.add(early)
    if refunded is not None:
        early.refunded = refunded
    if disputed is not None:
        early.disputed = disputed
