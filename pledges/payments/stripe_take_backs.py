"""Money Stripe takes back from a payment (a refund, a dispute) and gives back (a dispute won),
whichever order the events come in.

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
    charge = gateway.fetch_charge(event_charge["id"])
    _taken_back(charge["id"], refunded=charge.get("amount_refunded", 0))


def dispute_changed(event_dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """A dispute was opened, escalated, won, lost, or its money given back. A chargeback takes
    the money back at once, an inquiry (`warning_*`) takes nothing, a dispute won gives it back
    and a lost one has taken it for good; but a charge may have several disputes, so whichever
    event it is, the payment holds back what all of them hold now. A lost dispute's closing is
    heard too by an endpoint that never received the withdrawal (`funds_withdrawn` is not among
    the events an older endpoint was set up with)."""
    _disputes_hold(id_of(event_dispute.get("charge")) or "", gateway)


def settle_new_payment(contribution: Contribution, charge: ChargeFacts) -> None:
    """A payment just recorded (or found recorded by a second event of the same payment): take
    off what its charge already says went back (its refund's own event may come later, or never
    again), and what a refund or dispute handled before it noted. Its notes are then done with.
    Taking back only ever grows the amounts, so doing it twice changes nothing; but facts read
    before a dispute was won, applied after, would hold the money back until `sync-stripe`."""
    if charge.refunded or charge.disputed:
        _take_back(contribution, refunded=charge.refunded, disputed=charge.disputed)
    if not contribution.provider_charge_id:
        return
    ledger.lock()
    early = db.session.get(EarlyTakeBack, contribution.provider_charge_id)
    if early is None:
        return
    _take_back(contribution, refunded=early.refunded, disputed=early.disputed)
    db.session.delete(early)


def _disputes_hold(charge_id: str, gateway: StripeGateway) -> None:
    """Set the payment's disputed amount to what the charge's disputes hold now, all of them,
    counted as when its payment is recorded (`withdrawn_by_disputes`): one rule, however many
    disputes, whichever were won or lost, and in whatever order their events come."""
    if not charge_id:
        return
    held = gateway.withdrawn_by_disputes(gateway.fetch_charge(charge_id))
    ledger.lock()
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is None:
        _taken_back(charge_id, disputed=held)
    elif (in_ledger := contribution.in_ledger_currency(held)) < contribution.disputed:
        ledger.reinstate(contribution, still_disputed=in_ledger)
    else:
        _take_back(contribution, disputed=held)


def _taken_back(
    charge_id: str, *, refunded: int | None = None, disputed: int | None = None
) -> None:
    """Take a refund or dispute off the charge's payment, or note it for the payment if that is
    not recorded yet."""
    if not charge_id:
        return
    ledger.lock()
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is not None:
        _take_back(contribution, refunded=refunded, disputed=disputed)
        return
    early = db.session.get(EarlyTakeBack, charge_id)
    if early is None:
        early = EarlyTakeBack(charge_id=charge_id, refunded=0, disputed=0)
        db.session.add(early)
    if refunded is not None:
        early.refunded = max(early.refunded, refunded)
    if disputed is not None:
        early.disputed = disputed


def _take_back(
    contribution: Contribution, *, refunded: int | None = None, disputed: int | None = None
) -> None:
    """Stripe says what went back in the currency paid; the ledger counts it in its own."""
    ledger.take_back(
        contribution,
        refunded=None if refunded is None else contribution.in_ledger_currency(refunded),
        disputed=None if disputed is None else contribution.in_ledger_currency(disputed),
    )
