"""Money matters an organizer must act on, told by email to every enrolled organizer when
Stripe reports them: the app has already set the books right, but a person is still owed
something."""

from datetime import datetime, timedelta

from pledges.models import Contribution
from pledges.services import mail_outbox, organizers

#: An organizer who joined within this of a refund being made counts as there when it was.
SAME_DAY = timedelta(days=1)


def refund_failed(
    contribution: Contribution, *, refund_id: str, amount: int, reason: str, made_at: datetime
) -> int:
    """A refund of this payment failed: the money is back in the pool, and the supporter who
    was promised it has not got it. Once per refund and organizer, however often Stripe says
    so, to the organizers there when the refund was made (one who came later would take an
    old failure, perhaps long set right, for news); how many emails were queued now."""
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
            if organizer.totp_confirmed_at is not None and organizer.created_at < made_at + SAME_DAY
        ],
    )
