"""`flask pledges sync-stripe`: bring pledges in line with Stripe, whatever webhooks were missed.

Each pledge is settled in its own transaction, so one that fails (Stripe unreachable, say)
leaves the others done; running it again does nothing twice.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Pledge, PledgeStatus
from pledges.models.types import utcnow
from pledges.payments.stripe_events import apply_paid_invoice, sync_subscription
from pledges.payments.stripe_gateway import StripeGateway
from pledges.services import pledges

log = logging.getLogger(__name__)

#: A checkout left pending longer than this is abandoned; Stripe's sessions expire in a day.
PENDING_WINDOW = timedelta(days=3)


@dataclass
class SyncReport:
    pledges: int = 0
    payments_recorded: int = 0
    errors: list[str] = field(default_factory=list)


def sync(gateway: StripeGateway) -> SyncReport:
    report = SyncReport()
    ids = db.session.scalars(
        select(Pledge.id).where(
            Pledge.provider == "stripe",
            (Pledge.provider_subscription_id.is_not(None))
            | (Pledge.created_at > utcnow() - PENDING_WINDOW),
        )
    ).all()
    db.session.rollback()
    for pledge_id in ids:
        try:
            report.payments_recorded += _sync_pledge(db.session.get(Pledge, pledge_id), gateway)
            db.session.commit()
            report.pledges += 1
        except Exception as error:  # noqa: BLE001 - one pledge's trouble does not stop the rest
            db.session.rollback()
            log.exception("sync of pledge %s failed", pledge_id)
            report.errors.append(f"pledge {pledge_id}: {error}")
    return report


def _sync_pledge(pledge: Pledge, gateway: StripeGateway) -> int:
    subscription_id = pledge.provider_subscription_id
    if subscription_id is None:
        if pledge.status != PledgeStatus.PENDING:
            return 0
        subscription_id = gateway.find_subscription_for(pledge.id)
        if subscription_id is None:
            return 0  # the checkout was never completed
        pledges.link_subscription(pledge, subscription_id=subscription_id, customer_id=None)
    recorded = 0
    for invoice in gateway.paid_invoices(subscription_id):
        if not pledges.is_recorded(invoice["id"]):
            apply_paid_invoice(invoice, gateway)
            recorded += 1
    sync_subscription(pledge, gateway, subscription_id)
    return recorded
