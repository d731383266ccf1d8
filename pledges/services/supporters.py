"""The one way in to supporters: lookups go through the blind index, never raw queries."""

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pledges.extensions import db
from pledges.models import Supporter


def normalize_email(email: str) -> str:
    return email.strip().lower()


def email_index(email: str) -> str:
    return current_app.extensions["pledges_cipher"].blind_index(normalize_email(email))


def find_by_email(email: str) -> Supporter | None:
    return db.session.scalar(select(Supporter).where(Supporter.email_index == email_index(email)))


def find_or_create(email: str, *, public_name: str | None = None, locale: str = "en") -> Supporter:
    """Return the supporter with this email, creating them if new.

    An existing supporter's details are left alone: whoever fills in a public form has not
    proven they own the address, so they must not be able to rename someone else.
    """
    existing = find_by_email(email)
    if existing is not None:
        return existing
    supporter = Supporter(
        email_index=email_index(email),
        email=normalize_email(email),
        public_name=public_name or None,
        locale=locale,
    )
    try:
        with db.session.begin_nested():
            db.session.add(supporter)
    except IntegrityError:
        # Someone signed up with the same address at the same moment; theirs stands.
        found = find_by_email(email)
        assert found is not None
        return found
    return supporter
