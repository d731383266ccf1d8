"""Supporters' signed-in browsers, kept on the server so that signing out really ends one and
"sign out everywhere" ends them all."""

import secrets
from datetime import timedelta

from sqlalchemy import select, update

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import Supporter, SupporterSession
from pledges.models.types import utcnow
from pledges.services import auth_tokens

#: However often it is used, a signed-in browser asks for a new link after this long: a cookie
#: copied off a shared or seized device stops working by itself.
LIFETIME = timedelta(days=30)


def begin(supporter: Supporter) -> str:
    """A new session; the token in clear goes into the (signed) cookie only."""
    raw = secrets.token_urlsafe(32)
    db.session.add(SupporterSession(token_hash=token_hash(raw), supporter_id=supporter.id))
    return raw


def signed_in(supporter_id: int, raw: str | None) -> Supporter | None:
    """The supporter, if this session of theirs is open and not older than `LIFETIME` (one
    query: it runs on every page)."""
    if not raw:
        return None
    return db.session.scalar(
        select(Supporter)
        .join(SupporterSession, SupporterSession.supporter_id == Supporter.id)
        .where(
            Supporter.id == supporter_id,
            Supporter.erased_at.is_(None),
            SupporterSession.token_hash == token_hash(raw),
            SupporterSession.ended_at.is_(None),
            SupporterSession.created_at > utcnow() - LIFETIME,
        )
    )


def end(raw: str | None) -> None:
    if raw:
        db.session.execute(
            update(SupporterSession)
            .where(
                SupporterSession.token_hash == token_hash(raw), SupporterSession.ended_at.is_(None)
            )
            .values(ended_at=utcnow())
        )


def end_all(supporter: Supporter) -> None:
    """Every browser signed in as them, and every link sent and not used yet."""
    auth_tokens.void_unused(supporter)
    db.session.execute(
        update(SupporterSession)
        .where(SupporterSession.supporter_id == supporter.id, SupporterSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
