"""A supporter's rights over their own data: see all of it, and take it away.

Erasing keeps the amounts: contributions stay in the ledger under a nameless supporter row, so
the fund's books and every other supporter's attribution still add up."""

import uuid
from typing import Any

from sqlalchemy import delete, func, select, update

from pledges.extensions import db
from pledges.models import (
    LoginToken,
    OutboxStatus,
    PaymentProblem,
    PledgeStatus,
    Supporter,
    SupporterSession,
)
from pledges.models.types import utcnow
from pledges.payments import gateway
from pledges.services import mail_outbox, payment_problems, pledges, supporter_sessions


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
        "saved_card": {
            "brand": supporter.card_brand,
            "last4": supporter.card_last4,
            "expires": f"{supporter.card_exp_month}/{supporter.card_exp_year}"
            if supporter.card_exp_year
            else None,
        },
        "payments_that_failed": [
            {
                "pledge": problem.pledge_id,
                "amount_minor": problem.amount,
                "currency": problem.currency,
                "kind": problem.kind,
                "on": day(problem.occurred_at),
                "resolved": day(problem.resolved_at),
            }
            for pledge in supporter.pledges
            for problem in db.session.scalars(
                select(PaymentProblem).where(PaymentProblem.pledge_id == pledge.id)
            )
        ],
        "signed_in_sessions": db.session.scalar(
            select(func.count()).where(SupporterSession.supporter_id == supporter.id)
        ),
        "pledges": [
            {
                "id": pledge.id,
                "amount_minor": pledge.amount,
                "currency": pledge.currency,
                "status": pledge.status,
                "provider": pledge.provider,
                "subscription": pledge.provider_subscription_id,
                "earmarked_case": pledge.case.slug if pledge.case else None,
                "earmark_changes": [
                    {
                        "on": day(change.changed_at),
                        "earmarked_case_before": change.case_before.slug
                        if change.case_before
                        else None,
                    }
                    for change in pledge.earmark_changes
                ],
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


def set_public_name(supporter: Supporter, name: str | None) -> bool:
    """Show a name where they gave, or none; confirmed by email, since a name shown can
    expose them."""
    if supporter.public_name == name:
        return False
    supporter.public_name = name
    # The name stays out of the email's row (plain, and kept after sending): read when sent.
    _confirm(supporter, "name-shown" if name else "name-removed")
    return True


def set_preferences(supporter: Supporter, **wants: bool) -> bool:
    changed = {key: value for key, value in wants.items() if getattr(supporter, key) != value}
    for key, value in changed.items():
        setattr(supporter, key, value)
    if changed:
        _confirm(supporter, "preferences", **wants)
    return bool(changed)


def _confirm(supporter: Supporter, change: str, **details: object) -> None:
    mail_outbox.enqueue(
        "account-changed",
        recipient=supporter.email,
        dedupe_key=f"account-changed:{supporter.id}:{uuid.uuid4().hex}",
        context={"change": change, **details},
    )


def erase(supporter: Supporter) -> None:
    """Delete the account: end every subscription now, forget the provider's customer, erase
    email and name everywhere, end every session. The amounts stay, anonymous."""
    provider = gateway()
    now = utcnow()
    # Every customer the provider made for them (each checkout by address makes one); deleting
    # a customer also ends its subscriptions and deletes its cards.
    customers = {supporter.stripe_customer_id} | {p.provider_customer_id for p in supporter.pledges}
    for pledge in supporter.pledges:
        live = pledge.status != PledgeStatus.CANCELED and pledge.provider_subscription_id
        if live and pledge.provider == provider.name and pledge.provider_customer_id is None:
            provider.end_now(pledge)
    if provider.name == "stripe":
        for customer in sorted(c for c in customers if c):
            provider.forget_customer(customer)
    for pledge in supporter.pledges:
        if pledge.status != PledgeStatus.CANCELED:
            pledges.move(pledge, PledgeStatus.CANCELED, now)
        payment_problems.resolve_for(pledge, now)
        pledge.requested_public_name = None
        pledge.provider_customer_id = None
        pledge.cancel_reason = None
    # Links to the provider's receipts and invoices show the donor's name and address.
    for contribution in supporter.contributions:
        contribution.receipt_url = None
    db.session.execute(
        update(PaymentProblem)
        .where(PaymentProblem.pledge_id.in_([p.id for p in supporter.pledges]))
        .values(hosted_url=None)
    )
    _forget_mail_to(supporter.email)
    db.session.execute(delete(LoginToken).where(LoginToken.supporter_id == supporter.id))
    supporter_sessions.end_all(supporter)
    supporter.email = ""
    supporter.email_index = f"erased:{supporter.id}"
    supporter.public_name = None
    supporter.stripe_customer_id = None
    supporter.card_brand = supporter.card_last4 = None
    supporter.card_exp_month = supporter.card_exp_year = None
    supporter.erased_at = now


def _forget_mail_to(email: str) -> None:
    for row in mail_outbox.addressed_to(email):
        row.recipient = None
        row.last_error = None  # an SMTP refusal quotes the address
        if row.status == OutboxStatus.QUEUED:
            row.status = OutboxStatus.DROPPED
