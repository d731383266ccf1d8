"""Supporters' signed-in browsers, kept on the server so that signing out really ends one and
"sign out everywhere" ends them all."""

import secrets

from sqlalchemy import select, update

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import Supporter, SupporterSession
from pledges.models.types import utcnow


def begin(supporter: Supporter) -> str:
    """A new session; the token in clear goes into the (signed) cookie only."""
    raw = secrets.token_urlsafe(32)
    db.session.add(SupporterSession(token_hash=token_hash(raw), supporter_id=supporter.id))
    return raw


def is_open(supporter_id: int, raw: str | None) -> bool:
    if not raw:
        return False
    return (
        db.session.scalar(
            select(SupporterSession.id).where(
                SupporterSession.token_hash == token_hash(raw),
                SupporterSession.supporter_id == supporter_id,
                SupporterSession.ended_at.is_(None),
            )
        )
        is not None
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
    db.session.execute(
        update(SupporterSession)
        .where(SupporterSession.supporter_id == supporter.id, SupporterSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )
