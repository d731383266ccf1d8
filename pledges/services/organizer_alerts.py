"""Money matters an organizer must act on, told to every organizer by email when Stripe
reports them: the app has already set the books right, but a person is still owed something."""

from pledges.models import Contribution
from pledges.services import mail_outbox, organizers


def refund_failed(contribution: Contribution, *, refund_id: str, amount: int, reason: str) -> int:
    """A refund of this payment failed: the money is back in the pool, and the supporter who
    was promised it has not got it. Once per refund and organizer, however often Stripe says
    so; how many emails were queued now."""
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
            (organizer.email, f"refund-failed:{refund_id}:{organizer.id}", context)
            for organizer in organizers.active()
        ],
    )
