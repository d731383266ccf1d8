"""The one way in to supporters: lookups go through the blind index, never raw queries."""

from flask import current_app
from sqlalchemy import select

from pledges.extensions import add_unless_taken, db
from pledges.models import Supporter


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_index(email: str) -> str:
    return current_app.extensions["pledges_cipher"].blind_index(normalize_email(email))


def find_by_email(email: str) -> Supporter | None:
    return db.session.scalar(select(Supporter).where(Supporter.email_index == email_index(email)))


def find_many(addresses: list[str]) -> dict[str, Supporter]:
    """The supporters among these addresses, by address as given, in one query."""
    indexes = {address: email_index(address) for address in addresses}
    found = {
        supporter.email_index: supporter
        for supporter in db.session.scalars(
            select(Supporter).where(Supporter.email_index.in_(set(indexes.values())))
        )
    }
    return {address: found[index] for address, index in indexes.items() if index in found}


def find_or_create(email: str, *, locale: str = "en") -> Supporter:
    """Return the supporter with this email, creating them (anonymous) if new.

    Nothing else is taken from a public form: whoever fills it in has not proven they own the
    address.
    """
    existing = find_by_email(email)
    if existing is not None:
        return existing
    supporter = add_unless_taken(
        lambda: Supporter(
            email_index=email_index(email), email=normalize_email(email), locale=locale
        )
    )
    if supporter is None:
        # Someone signed up with the same address at the same moment; theirs stands.
        supporter = find_by_email(email)
        assert supporter is not None
    return supporter


def requested_names(supporter: Supporter) -> list[tuple[int, str]]:
    """Public names asked for on the pledge form and not yet confirmed: (pledge id, name)."""
    return [
        (pledge.id, pledge.requested_public_name)
        for pledge in supporter.pledges
        if pledge.requested_public_name and pledge.status != "pending"
    ]


def settle_public_name(supporter: Supporter, pledge_id: int, *, show: bool) -> None:
    """The signed-in supporter confirms (or turns down) the name typed on a pledge form."""
    for pledge in supporter.pledges:
        if pledge.id == pledge_id and pledge.requested_public_name:
            if show:
                supporter.public_name = pledge.requested_public_name
            pledge.requested_public_name = None
