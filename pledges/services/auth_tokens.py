"""Sign-in links: 32 random bytes, stored only as a hash, single use, short-lived. One token
belongs to one account, a supporter or an organizer, and only opens that kind of account."""

import secrets
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select, update

from pledges.crypto import token_hash
from pledges.extensions import db
from pledges.models import LoginToken, Organizer, Supporter
from pledges.models.types import utcnow
from pledges.services import mail_outbox

TOKEN_LIFETIME = timedelta(minutes=10)
#: An invitation waits in an inbox longer than a sign-in link someone just asked for.
INVITATION_LIFETIME = timedelta(days=3)

Account = Supporter | Organizer
T = TypeVar("T", Supporter, Organizer)


def issue(
    account: Account, now: datetime | None = None, lifetime: timedelta = TOKEN_LIFETIME
) -> str:
    """Create a token and return it in clear: the only copy, which goes into the email."""
    now = now or utcnow()
    raw = secrets.token_urlsafe(32)
    owner = (
        {"organizer_id": account.id}
        if isinstance(account, Organizer)
        else {"supporter_id": account.id}
    )
    db.session.add(
        LoginToken(token_hash=token_hash(raw), created_at=now, expires_at=now + lifetime, **owner)
    )
    return raw


#: The emails whose link is made when they are sent, by the kind of account they open.
LINK_EMAILS = {Supporter: ("sign-in",), Organizer: ("organizer-sign-in", "organizer-invite")}


def void_unused(account: Account, now: datetime | None = None) -> None:
    """Every link sent to the account and not used yet stops working, and no email still
    waiting brings a new one: signing out everywhere (a lost phone, a mailbox read by someone
    else), losing the second factor, an invitation sent again."""
    mail_outbox.drop_queued(LINK_EMAILS[type(account)], account.email)
    column = _owner_column(type(account))
    db.session.execute(
        update(LoginToken)
        .where(column == account.id, LoginToken.used_at.is_(None))
        .values(used_at=now or utcnow())
    )


def _owner_column(kind: type[Account]):  # noqa: ANN202
    return LoginToken.organizer_id if kind is Organizer else LoginToken.supporter_id


def is_usable(raw: str, kind: type[Account] = Supporter, now: datetime | None = None) -> bool:
    """Look without using it up, for the confirmation page that a mail scanner may open."""
    now = now or utcnow()
    token = db.session.scalar(
        select(LoginToken).where(
            LoginToken.token_hash == token_hash(raw), _owner_column(kind).is_not(None)
        )
    )
    return token is not None and token.used_at is None and token.expires_at > now


def consume(raw: str, kind: type[T] = Supporter, now: datetime | None = None) -> T | None:
    """Use the token up and return its account, or None if it is unknown, used, expired or
    for the other kind of account.

    One conditional UPDATE, so two clicks racing each other cannot both sign in.
    """
    now = now or utcnow()
    owner = _owner_column(kind)
    used = db.session.execute(
        update(LoginToken)
        .where(
            LoginToken.token_hash == token_hash(raw),
            owner.is_not(None),
            LoginToken.used_at.is_(None),
            LoginToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(owner)
    ).first()
    if used is None:
        return None
    return db.session.get(kind, used[0])
