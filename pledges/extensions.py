"""Flask extensions as module globals, bound to the app in `create_app`."""

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx
from sqlalchemy import MetaData, Table, event
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints, so that Alembic can alter them on SQLite and PostgreSQL alike.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _sqlite_like_postgresql(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    """Make SQLite keep the promises PostgreSQL keeps: foreign keys checked, and transactions
    that begin where SQLAlchemy says, so that a savepoint's release does not commit."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # pysqlite no longer opens transactions itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begins(connection) -> None:  # noqa: ANN001
    if connection.dialect.name == "sqlite":
        mode = connection.get_execution_options().get("sqlite_begin", "")
        connection.exec_driver_sql(f"BEGIN {mode}".strip())


T = TypeVar("T")


def begin_writing() -> None:
    """Start the session's next transaction as one that will write.

    SQLite then takes its write lock at once (BEGIN IMMEDIATE): two workers that each read
    and then write would otherwise deadlock, and one would fail after it had already sent an
    email. PostgreSQL ignores the option; its row locks do this job.
    """
    if not db.session().in_transaction():
        db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def add_unless_taken(make: Callable[[], T]) -> T | None:
    """Add the row `make` builds, in a savepoint; None when a unique key says another
    transaction has it already (perhaps at this very moment: the insert waits for that one,
    then fails here instead of failing the whole transaction). The row is built inside the
    savepoint, so a lost race leaves nothing of it in the session."""
    try:
        with db.session.begin_nested():
            row = make()
            db.session.add(row)
    except IntegrityError:
        return None
    return row


def insert_new(table: Table, rows: list[dict[str, Any]], key: str) -> int:
    """Insert, in one statement, the rows whose unique `key` no row has yet; how many went in.

    ON CONFLICT DO NOTHING, in PostgreSQL's and SQLite's words: a row another transaction is
    inserting at this moment waits for it, then is skipped. One round trip, where
    `add_unless_taken` takes three (its savepoint).
    """
    insert = (
        postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    )
    statement = insert(table).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    # RETURNING names only the rows inserted: an honest count where rowcount is not.
    return len(db.session.execute(statement, rows).all())


migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def client_address() -> str:
    """Who is asking, as rate limits count it: a keyed hash of the client's address, so neither
    the limits' storage (Redis) nor the limiter's own log line holds the address itself."""
    cipher = current_app.extensions["pledges_cipher"]
    return cipher.blind_index(f"client-address:{request.remote_addr or ''}")[:32]


limiter = Limiter(key_func=client_address, default_limits=[])
babel = Babel()
htmx = Htmx()
