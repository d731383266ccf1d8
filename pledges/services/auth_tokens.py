"""Sign-in links: 32 random bytes, stored only as a hash, single use, valid ten minutes."""

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import LoginToken, Supporter
from pledges.models.types import utcnow

TOKEN_LIFETIME = timedelta(minutes=10)


def issue(supporter: Supporter, now: datetime | None = None) -> str:
    """Create a token and return it in clear: the only copy, which goes into the email."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    db.session.add(
        LoginToken(
            token_hash=token_hash(raw),
            supporter_id=supporter.id,
            created_at=now,
            expires_at=now + TOKEN_LIFETIME,
        )
    )
    return raw


def is_usable(raw: str, now: datetime | None = None) -> bool:
    """Look without using it up, for the confirmation page that a mail scanner may open."""
    now = now or utcnow()
    token = db.session.scalar(select(LoginToken).where(LoginToken.token_hash == token_hash(raw)))
    return token is not None and token.used_at is None and token.expires_at > now


def consume(raw: str, now: datetime | None = None) -> Supporter | None:
    """Use the token up and return its supporter, or None if it is unknown, used or expired.

    One conditional UPDATE, so two clicks racing each other cannot both sign in.
    """
    now = now or utcnow()
    used = db.session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == token_hash(raw),
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(LoginToken.supporter_id)
    ).first()
    if used is None:
        return None
    return db.session.get(Supporter, used.supporter_id)
