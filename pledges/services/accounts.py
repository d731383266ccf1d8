"""A supporter's rights over their own data: see all of it, and take it away.

Erasing keeps the amounts: contributions stay in the ledger under a nameless supporter row, so
the fund's books and every other supporter's attribution still add up."""

from typing import Any

from sqlalchemy import delete, select

from pledges.extensions import db
from pledges.models import LoginToken, OutboxEmail, OutboxStatus, PledgeStatus, Supporter
from pledges.models.types import utcnow
from pledges.payments import gateway
from pledges.services import pledges, supporter_sessions
from pledges.services.supporters import normalize_email


def export(supporter: Supporter) -> dict[str, Any]:
    """Everything we hold about them, as JSON-ready data."""

    def day(value: object) -> str | None:
        return value.isoformat() if value is not None else None  # type: ignore[attr-defined]

    return {
        "email": supporter.email,
        "public_name": supporter.public_name,
        "language": supporter.locale,
        "member_since": day(supporter.created_at),
        "email_preferences": {
            "upcoming_charge_reminders": supporter.wants_reminders,
            "monthly_impact_digest": supporter.wants_digest,
            "case_outcome_updates": supporter.wants_updates,
        },
        "payment_provider_customer": supporter.stripe_customer_id,
        "pledges": [
            {
                "id": pledge.id,
                "amount_minor": pledge.amount,
                "currency": pledge.currency,
                "status": pledge.status,
                "provider": pledge.provider,
                "subscription": pledge.provider_subscription_id,
                "earmarked_case": pledge.case.slug if pledge.case else None,
                "public_name_requested": pledge.requested_public_name,
                "started": day(pledge.activated_at or pledge.created_at),
                "next_charge": day(pledge.next_charge_at),
                "paused_until": day(pledge.paused_until),
                "ends": day(pledge.ends_at),
                "cancel_reason": pledge.cancel_reason,
            }
            for pledge in supporter.pledges
        ],
        "contributions": [
            {
                "id": c.id,
                "paid_at": day(c.paid_at),
                "currency": c.currency,
                "gross_minor": c.gross,
                "fee_minor": c.fee,
                "refunded_minor": c.refunded,
                "disputed_minor": c.disputed,
                "earmarked_case_id": c.earmarked_case_id,
                "receipt": c.receipt_url,
            }
            for c in supporter.contributions
        ],
    }


def erase(supporter: Supporter) -> None:
    """Delete the account: end every subscription now, forget the provider's customer, erase
    email and name everywhere, end every session. The amounts stay, anonymous."""
    provider = gateway()
    for pledge in supporter.pledges:
        if pledge.status != PledgeStatus.CANCELED:
            if pledge.provider_subscription_id and pledge.provider == provider.name:
                provider.end_now(pledge)
            pledges.move(pledge, PledgeStatus.CANCELED, utcnow())
        pledge.requested_public_name = None
        pledge.provider_customer_id = None
        pledge.cancel_reason = None
    if supporter.stripe_customer_id and provider.name == "stripe":
        provider.forget_customer(supporter.stripe_customer_id)
    _forget_mail_to(supporter.email)
    db.session.execute(delete(LoginToken).where(LoginToken.supporter_id == supporter.id))
    supporter_sessions.end_all(supporter)
    supporter.email = ""
    supporter.email_index = f"erased:{supporter.id}"
    supporter.public_name = None
    supporter.stripe_customer_id = None
    supporter.erased_at = utcnow()


def _forget_mail_to(email: str) -> None:
    """The outbox keeps recipients encrypted, so each is read to find theirs."""
    address = normalize_email(email)
    for row in db.session.scalars(select(OutboxEmail).where(OutboxEmail.recipient.is_not(None))):
        if normalize_email(row.recipient or "") == address:
            row.recipient = None
            if row.status == OutboxStatus.QUEUED:
                row.status = OutboxStatus.DROPPED
