"""Column types shared by the models: UTC timestamps and values encrypted at rest."""

from datetime import UTC, date, datetime, timedelta

from flask import current_app
from sqlalchemy import DateTime, Text
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_today() -> date:
    """Today as the ledger counts days: in UTC, whatever the server's own zone."""
    return utcnow().date()


#: The farthest ahead of UTC any place's clock is (Kiribati).
_EARLIEST_ZONE = timedelta(hours=14)


def is_in_the_future(day: date) -> bool:
    """After today everywhere: an organizer in Kyiv just after midnight pays on a day that in
    UTC is still to come."""
    return day > (utcnow() + _EARLIEST_ZONE).date()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware UTC datetimes; SQLite hands them back naive, so they are made aware again."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Pledges stores times in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EncryptedText(TypeDecorator[str]):
    """Encrypted with PLEDGES_DATA_KEY on the way in, decrypted on the way out."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        return current_app.extensions["pledges_cipher"].encrypt(value)

    def process_result_value(self, value: str | None, dialect):  # noqa: ANN001
        if value is None:
            return None
        return current_app.extensions["pledges_cipher"].decrypt(value)


#: How every value sealed with PLEDGES_DATA_KEY starts (a Fernet token's version and time).
SEALED_PREFIX = "gAAAAA"


class EncryptedLink(EncryptedText):
    """A provider's page, encrypted like the rest. One stored in clear reads as it is: written
    by a worker still on the code before 0022 while an upgrade ran."""

    cache_ok = True

    def process_result_value(self, value: str | None, dialect):  # noqa: ANN001
        if value is not None and not value.startswith(SEALED_PREFIX):
            return value
        return super().process_result_value(value, dialect)


def render_migration_type(kind: str, obj: object, autogen_context: object) -> str | bool:
    """Let Alembic write our decorated types as the plain SQL types they store, so migrations do
    not import application code."""
    if kind == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False
