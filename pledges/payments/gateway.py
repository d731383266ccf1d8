from typing import Protocol

from pledges.models import Pledge


class PaymentGateway(Protocol):
    """What the app asks of a payment provider. Both implementations report back through the
    same service functions (`pledges.services.pledges`)."""

    #: Stored on each pledge as its provider.
    name: str

    def start_checkout(self, pledge: Pledge, *, success_url: str, cancel_url: str) -> str:
        """Return the address of a hosted checkout that starts this pledge's subscription."""
        ...
