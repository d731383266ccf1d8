"""The one way in to organizers: invitations, lookups by blind index, removal."""

import uuid

from flask import current_app
from sqlalchemy import select, update

from pledges.extensions import db
from pledges.models import Organizer, OrganizerRole, RecoveryCode
from pledges.models.types import utcnow
from pledges.services import api_tokens, audit, auth_tokens, mail_outbox
from pledges.services.supporters import normalize_email


class AlreadyInvited(ValueError):
    """The address belongs to an organizer already."""


def email_index(email: str) -> str:
    # Namespaced: the same address as a supporter gives another index, so a database dump does
    # not show which organizers also give.
    cipher = current_app.extensions["pledges_cipher"]
    return cipher.blind_index("organizer:" + normalize_email(email))


def find_by_email(email: str) -> Organizer | None:
    return db.session.scalar(select(Organizer).where(Organizer.email_index == email_index(email)))


def active() -> list[Organizer]:
    return list(
        db.session.scalars(
            select(Organizer).where(Organizer.removed_at.is_(None)).order_by(Organizer.id)
        )
    )


def invite(email: str, *, name: str, role: OrganizerRole, by: Organizer | None = None) -> Organizer:
    """Create the account and queue the invitation, whose link is made when it is sent."""
    existing = find_by_email(email)
    if existing is not None and existing.removed_at is None:
        raise AlreadyInvited(email)
    if existing is not None:  # invited again after removal: the same account, back
        organizer = existing
        organizer.removed_at = None
        organizer.role = role
        organizer.name = name
        organizer.session_epoch += 1
    else:
        organizer = Organizer(
            email_index=email_index(email),
            email=normalize_email(email),
            name=name,
            role=role,
            invited_by_id=by.id if by else None,
        )
        db.session.add(organizer)
    db.session.flush()
    send_invitation(organizer)
    audit.record("organizer.invite", organizer, f"as {role}", by=by)
    return organizer


def send_invitation(organizer: Organizer) -> None:
    """A new invitation, whose link is made when it is sent; the links of earlier ones stop
    working (one sent to a mistyped address, say)."""
    auth_tokens.void_unused(organizer)
    mail_outbox.enqueue(
        "organizer-invite",
        recipient=organizer.email,
        dedupe_key=f"organizer-invite:{organizer.id}:{uuid.uuid4().hex}",
        context={"organizer_id": organizer.id},
    )


def remove(organizer: Organizer, *, by: Organizer) -> None:
    """Take away access at once, every session included; the row stays for the audit log."""
    if organizer.id == by.id:
        raise ValueError("you cannot remove yourself; ask another admin")
    organizer.removed_at = utcnow()
    forget_second_factor(organizer)
    api_tokens.revoke_all_made_by(organizer, by=by)
    audit.record("organizer.remove", organizer, by=by)


def reset_second_factor(organizer: Organizer, *, by: Organizer) -> None:
    """For a lost phone: the organizer enrols again from a new invitation."""
    forget_second_factor(organizer)
    send_invitation(organizer)
    audit.record("organizer.reset-second-factor", organizer, by=by)


def forget_second_factor(organizer: Organizer) -> None:
    """End every session, and void the authenticator, the recovery codes and unused links."""
    now = utcnow()
    organizer.session_epoch += 1
    organizer.totp_secret = None
    organizer.totp_confirmed_at = None
    organizer.last_totp_step = None
    db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.organizer_id == organizer.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
    )
    auth_tokens.void_unused(organizer, now)


def end_sessions(organizer: Organizer) -> None:
    organizer.session_epoch += 1
    auth_tokens.void_unused(organizer)
    audit.record("organizer.sign-out-everywhere", organizer, by=organizer)
