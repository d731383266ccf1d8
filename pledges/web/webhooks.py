"""Stripe's signed webhooks. 400 for anything not genuine; a replay is a 200 no-op. A genuine
event is only written down here: a worker applies it (see `stripe_inbox`)."""

import logging

from flask import Blueprint, abort, request

from pledges.extensions import csrf, db
from pledges.payments import gateway, stripe_inbox
from pledges.payments.stripe_gateway import InvalidWebhook, StripeGateway

bp = Blueprint("webhooks", __name__)
log = logging.getLogger(__name__)


@bp.post("/stripe/webhook")
@csrf.exempt
def stripe_webhook() -> tuple[dict, int]:
    stripe = gateway()
    if not isinstance(stripe, StripeGateway):
        abort(404)
    try:
        event = stripe.parse_webhook(request.get_data(), request.headers.get("Stripe-Signature"))
    except InvalidWebhook as error:
        log.warning("refused a webhook: %s", error)
        return {"error": "invalid webhook"}, 400
    outcome = stripe_inbox.receive(event)
    db.session.commit()
    return {"received": True, "outcome": outcome}, 200
