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


def dispute_created(event_dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """A chargeback takes the money back at once; an inquiry (`warning_*`) takes nothing, nor
    does a dispute won since (its closing event may have been handled first). An inquiry that
    becomes a chargeback is the same dispute, and comes again only as `funds_withdrawn`: it
    goes through here too."""
    dispute = gateway.fetch_dispute(event_dispute["id"])
    status = str(dispute.get("status", ""))
    if status.startswith("warning_") or status == "won":
        return
    _disputes_withdraw(id_of(dispute.get("charge")) or "", gateway)


def dispute_closed(dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """A dispute the fund won gives the money back to the payment, and so to the ledger. One
    it lost has taken it for good: said again here, for an endpoint that never received the
    withdrawal (`funds_withdrawn` is not among the events an older endpoint was set up with)."""
    charge_id = id_of(dispute.get("charge")) or ""
    if dispute.get("status") == "lost":
        _disputes_withdraw(charge_id, gateway)
    if dispute.get("status") != "won":
        return
    ledger.lock()
    contribution = pledges.find_contribution_by_charge(charge_id)
    if contribution is not None:
        ledger.reinstate(contribution)
    elif (early := db.session.get(EarlyTakeBack, charge_id)) is not None:
        early.disputed = 0


def dispute_reinstated(event_dispute: dict[str, Any], gateway: StripeGateway) -> None:
    """Stripe gave a dispute's money back: the dispute as it is now says whether it was won."""
    dispute_closed(gateway.fetch_dispute(event_dispute["id"]), gateway)


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


def _disputes_withdraw(charge_id: str, gateway: StripeGateway) -> None:
    """What the charge's disputes hold back, all of them, counted as when its payment is
    recorded (`withdrawn_by_disputes`): one rule, however many disputes and in whatever order
    their events come."""
    if charge_id:
        withdrawn = gateway.withdrawn_by_disputes(gateway.fetch_charge(charge_id))
        _taken_back(charge_id, disputed=withdrawn)


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
