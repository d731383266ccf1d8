"""Tokens for the organizer API: made by admins, shown once, stored as a hash, scoped and
expiring; a token acts as the admin who made it."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import SCOPES, ApiToken, Organizer, OrganizerRole
from pledges.models.types import utcnow
from pledges.services import audit

#: Recognisable in a leaked config file or a secret scanner's rules.
PREFIX = "plg_"
#: The longest an admin may choose: a forgotten script should not hold a key for ever.
MAX_LIFETIME = timedelta(days=366)


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    #: The only copy of the secret, for the admin to copy now.
    secret: str


def issue(name: str, scopes: list[str], lifetime: timedelta, *, by: Organizer) -> Issued:
    if by.role != OrganizerRole.ADMIN:
        raise PermissionError("only admins make API tokens")
    unknown = set(scopes) - set(SCOPES)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(SCOPES)}")
    if not timedelta(0) < lifetime <= MAX_LIFETIME:
        raise ValueError("a token lives between a day and a year")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=token_hash(secret),
        prefix=secret[: len(PREFIX) + 6],
        scopes=" ".join(scope for scope in SCOPES if scope in scopes),
        created_by_id=by.id,
        expires_at=utcnow() + lifetime,
    )
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.create", token, f"scopes {token.scopes}", by=by)
    return Issued(token, secret)


def revoke(token: ApiToken, *, by: Organizer) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record("api_token.revoke", token, by=by)


def revoke_all_made_by(maker: Organizer, *, by: Organizer) -> None:
    """An admin removed: their tokens end for good, not only while they are away (invited
    again, the same account comes back, and a token copied off their laptop with it)."""
    for token in db.session.scalars(
        select(ApiToken).where(ApiToken.created_by_id == maker.id, ApiToken.revoked_at.is_(None))
    ):
        revoke(token, by=by)


def listed() -> list[ApiToken]:
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def named(ids: set[int]) -> dict[int, ApiToken]:
    """The tokens with these ids, in one query: the audit log names the token of each API
    action on its page."""
    if not ids:
        return {}
    return {
        token.id: token
        for token in db.session.scalars(select(ApiToken).where(ApiToken.id.in_(ids)))
    }


def is_live(token: ApiToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    maker = token.created_by
    return (
        token.revoked_at is None
        and token.expires_at > now
        and maker.removed_at is None
        and maker.role == OrganizerRole.ADMIN
    )


def authenticate(secret: str, now: datetime | None = None) -> ApiToken | None:
    """The live token with this secret, or None: unknown, expired, revoked, or its admin gone."""
    if not secret.startswith(PREFIX):
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    if token is None or not is_live(token, now):
        return None
    token.last_used_at = now or utcnow()
    return token
