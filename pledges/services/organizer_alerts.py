"""Money matters an organizer must act on, told by email to the enrolled organizers when
Stripe reports them: the app has already set the books right, but a person is still owed
something."""

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Contribution, Organizer
from pledges.services import mail_outbox


def refund_failed(contribution: Contribution, *, refund_id: str, amount: int, reason: str) -> int:
    """A refund of this payment failed: the money is back in the pool, and the supporter who
    was promised it may still be waiting for it. Told once per refund, however often Stripe
    says so, to the organizers enrolled when it is first heard of: one who joins later would
    take an old failure, perhaps long set right, for news. How many emails were queued now."""
    everyone = list(db.session.scalars(select(Organizer).order_by(Organizer.id)))
    keys = {organizer.id: f"refund-failed:{refund_id}:{organizer.id}" for organizer in everyone}
    if mail_outbox.any_queued(keys.values()):
        return 0
    context = {
        "contribution_id": contribution.id,
        "refund_id": refund_id,
        "amount": amount,
        "currency": contribution.paid_currency,
        "reason": reason,
    }
    return mail_outbox.enqueue_many(
        "refund-failed",
        [
            (organizer.email, keys[organizer.id], context)
            for organizer in everyone
            if organizer.removed_at is None and organizer.totp_confirmed_at is not None
        ],
    )
