from datetime import datetime
from typing import Protocol

from pledges.models import Case, Pledge, Supporter


class ProviderError(RuntimeError):
    """The payment provider could not be reached or refused: nothing changed there."""


class PaymentGateway(Protocol):
    """What the app asks of a payment provider. Both implementations report back through the
    same service functions (`pledges.services.pledges`)."""

    #: Stored on each pledge as its provider.
    name: str

    def start_checkout(self, pledge: Pledge, *, success_url: str, cancel_url: str) -> str:
        """Return the address of a hosted checkout that starts this pledge's subscription."""
        ...

    def start_gift_checkout(
        self,
        supporter: Supporter,
        amount: int,
        currency: str,
        case: Case | None,
        *,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """The address of a hosted checkout for a one-off gift."""
        ...

    # The supporter's own changes. Each is applied at the provider first; the caller records it
    # only if the provider took it. None prorates: a change takes effect from the next charge.

    def change_amount(self, pledge: Pledge, amount: int) -> None: ...

    def renews_next(self, pledge: Pledge) -> datetime | None:
        """When the provider bills the pledge next, as it knows it. Its news of a renewal can
        still be on the way; None when the pledge's own `next_charge_at` is the truth."""
        ...

    def pause(self, pledge: Pledge, until: datetime) -> None: ...

    def resume(self, pledge: Pledge) -> None: ...

    def cancel_at_period_end(self, pledge: Pledge, cancel: bool) -> None: ...

    def card_update_url(self, pledge: Pledge, *, return_url: str) -> str:
        """A page of the provider's where the supporter replaces their card, and comes back."""
        ...

    def end_now(self, pledge: Pledge) -> None:
        """Cancel at once, for an account being deleted."""
        ...

    def forget_customer(self, customer_id: str) -> None:
        """Delete the provider's customer record (and its saved cards)."""
        ...
