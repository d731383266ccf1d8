"""Payment gateways: Stripe for real money, demo for a machine with no keys and no network."""

from flask import current_app

from pledges.payments.gateway import PaymentGateway, ProviderError


def gateway() -> PaymentGateway:
    return current_app.extensions["pledges_gateway"]


__all__ = ["PaymentGateway", "ProviderError", "gateway"]
