"""Fixtures: the app on SQLite and on PostgreSQL (every test that uses `app` runs on both),
a real SMTP sink, and a test client that knows about CSRF tokens and htmx."""

import os
import re
import shutil

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import create_engine, text

from pledges import create_app
from pledges.extensions import db
from tests.smtp_sink import SmtpSink

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DATABASES = [
    name
    for name in os.environ.get("PLEDGES_TEST_DATABASES", "sqlite,postgresql").split(",")
    if name
]
if os.environ.get("CI") and set(DATABASES) != {"sqlite", "postgresql"}:
    raise RuntimeError("CI runs the suite on both SQLite and PostgreSQL")

BASE_CONFIG = {
    "PLEDGES_ENV": "development",
    "SECRET_KEY": "test-secret-key-not-for-production",
    "PLEDGES_DATA_KEY": "test-data-key-not-for-production",
    "PAYMENTS": "demo",
    "BASE_URL": "http://pledges.test",
    "FUND_NAME": "Test Solidarity Fund",
    "FUND_CURRENCY": "EUR",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_DEFAULT_SENDER": "fund@pledges.test",
    "RATELIMIT_STORAGE_URI": "memory://",
    # Tests read the figures right after changing them; tests/web/test_public_cache.py keeps them.
    "PUBLIC_CACHE_SECONDS": 0,
}


@pytest.fixture(scope="session")
def smtp():
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def _migrate(uri: str, instance: str) -> None:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "PLEDGES_INSTANCE": instance})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """The migrated schema, made once and copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    _migrate(f"sqlite:///{path}", str(path.parent))
    return path


@pytest.fixture(scope="session")
def postgres_schema(tmp_path_factory):
    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    except Exception as error:  # noqa: BLE001
        pytest.fail(
            f"PostgreSQL is required for the tests and unreachable at {POSTGRES_URL}: {error}"
        )
    finally:
        engine.dispose()
    _migrate(POSTGRES_URL, str(tmp_path_factory.mktemp("pg")))
    return POSTGRES_URL


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{name}"' for name in tables)
        # The audit log refuses TRUNCATE; a test database may skip its triggers.
        connection.execute(text("SET LOCAL session_replication_role = replica"))
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "pledges.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_schema")
    _truncate_postgres(url)
    return url


@pytest.fixture
def config(database_url, smtp, tmp_path):
    """Settings for this test's app; a test may change them before asking for `app`."""
    smtp.reset(maildir=str(tmp_path / "mail"))
    return {
        **BASE_CONFIG,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MAIL_PORT": smtp.port,
        "DEV_MAILDIR": str(tmp_path / "mail"),
    }


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    """Build apps for this test (e.g. one whose mail server is down); all are closed after it."""
    made: list[Flask] = []
    monkeypatch.setenv("PLEDGES_INSTANCE", str(tmp_path / "instance"))

    def make(config: dict) -> Flask:
        app = create_app(config)
        app.test_client_class = PledgesClient
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(config, make_app):
    return make_app(config)


CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


class PledgesClient(FlaskClient):
    """A browser-like client: it fetches a CSRF token the way a page would carry it."""

    def csrf_token(self) -> str:
        page = self.get("/login").get_data(as_text=True)
        match = CSRF_INPUT.search(page)
        assert match, "no CSRF token on the sign-in page"
        return match.group(1) or match.group(2)

    def post_form(self, url: str, data: dict | None = None, *, htmx: bool = False, **kwargs):
        headers = kwargs.pop("headers", {})
        if htmx:
            headers = {"HX-Request": "true", **headers}
        form = {"csrf_token": self.csrf_token(), **(data or {})}
        return self.post(url, data=form, headers=headers, **kwargs)


@pytest.fixture
def client(app) -> PledgesClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
