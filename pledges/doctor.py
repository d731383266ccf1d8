"""`flask pledges doctor`: every configuration check, and a few that need the world (the
database, the mail server, Redis), each with a reason — what an operator runs after changing
the configuration or before opening the doors.

Reasons never show a secret: a database address without its password, errors redacted.
"""

import logging
import smtplib
import ssl
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import stripe
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from flask import Flask

from pledges import config as settings
from pledges.config import CheckResult
from pledges.extensions import db
from pledges.i18n import LANGUAGES
from pledges.payments import gateway, stripe_inbox
from pledges.payments.stripe_events import HANDLERS
from pledges.redaction import redact

#: Seconds to wait for a server that may not answer at all.
CONNECT_TIMEOUT = 5


def _failure(name: str, error: Exception) -> CheckResult:
    first_line = (str(error).strip().splitlines() or [""])[0]
    return CheckResult(name, False, redact(f"{type(error).__name__}: {first_line}"))


def database(app: Flask) -> CheckResult:
    url = db.engine.url.render_as_string(hide_password=True)
    path = db.engine.url.database if db.engine.url.get_backend_name() == "sqlite" else None
    if path and path != ":memory:" and not Path(path).exists():
        # Connecting would make an empty file, and a wrong path would then look fine.
        advice = (
            "set DATABASE_URL (PostgreSQL) in the environment file"
            if app.config["PLEDGES_ENV"] == "production"
            else "run `bin/flask db upgrade`"
        )
        return CheckResult("database-reachable", False, f"no SQLite file at {path}: {advice}")
    try:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return _failure("database-reachable", error)
    return CheckResult(
        "database-reachable", True, f"{db.engine.url.get_backend_name()} answers ({url})"
    )


def migrations(app: Flask) -> CheckResult:
    """The schema is the one this code expects: `flask db upgrade` has run."""
    script = ScriptDirectory(app.extensions["migrate"].directory)
    heads = set(script.get_heads())
    if not database(app).passed:
        return CheckResult("migrations", False, "cannot tell without the database")
    chatty = logging.getLogger("alembic.runtime.migration")
    level = chatty.level
    chatty.setLevel(logging.WARNING)  # "Context impl SQLiteImpl." says nothing to an operator
    try:
        with db.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except Exception as error:  # noqa: BLE001
        return _failure("migrations", error)
    finally:
        chatty.setLevel(level)
    if current == heads:
        return CheckResult("migrations", True, f"at head ({', '.join(sorted(heads))})")
    where = f"database at {', '.join(sorted(current)) or 'no revision'}, code at "
    where += ", ".join(sorted(heads))
    if unknown := [revision for revision in current if not _known(script, revision)]:
        # Newer than this code (a rollback of the code alone): upgrading cannot help.
        return CheckResult(
            "migrations",
            False,
            f"{where}: the database is newer than this code ({', '.join(unknown)} is not in "
            "it); check out the newer code again, run `bin/flask db downgrade` there, then go back",
        )
    return CheckResult("migrations", False, f"{where}: run `bin/flask db upgrade`")


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def mail_server(app: Flask) -> CheckResult:
    """Connect, say hello, start TLS and log in as the mail worker would; send nothing."""
    config = app.config
    host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    try:
        if config.get("MAIL_USE_SSL"):
            context = ssl.create_default_context()
            connection = smtplib.SMTP_SSL(host, port, timeout=CONNECT_TIMEOUT, context=context)
        else:
            connection = smtplib.SMTP(host, port, timeout=CONNECT_TIMEOUT)
        with connection:
            if config.get("MAIL_USE_TLS"):
                connection.starttls(context=ssl.create_default_context())
            if config.get("MAIL_USERNAME"):
                connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
            connection.noop()
    except Exception as error:  # noqa: BLE001
        return _failure("mail-server", error)
    logged_in = ", logged in" if config.get("MAIL_USERNAME") else ""
    return CheckResult("mail-server", True, f"{host}:{port} answers{logged_in}")


def rate_limit_storage(app: Flask) -> CheckResult:
    from limits.storage import storage_from_string

    uri = app.config["RATELIMIT_STORAGE_URI"]
    scheme = uri.split("://", 1)[0]
    if scheme == "memory":
        return CheckResult(
            "rate-limit-storage-reachable", True, "in process memory: nothing to reach"
        )
    options = (
        {"socket_connect_timeout": CONNECT_TIMEOUT, "socket_timeout": CONNECT_TIMEOUT}
        if scheme.startswith("redis")
        else {}
    )
    try:
        reachable = storage_from_string(uri, **options).check()
    except Exception as error:  # noqa: BLE001
        return _failure("rate-limit-storage-reachable", error)
    if not reachable:
        return CheckResult("rate-limit-storage-reachable", False, f"{scheme}:// does not answer")
    return CheckResult("rate-limit-storage-reachable", True, f"{scheme}:// answers")


def stripe_mode(app: Flask) -> CheckResult:
    """A test key in production takes pledges that never pay; a live key elsewhere charges
    real cards from a machine that is not the fund's."""
    config = app.config
    if config["PAYMENTS"] != "stripe":
        return CheckResult("stripe-mode", True, "demo payments: no Stripe key in use")
    key = config["STRIPE_SECRET_KEY"]
    mode = next(
        (m for m in ("live", "test") if key.startswith((f"sk_{m}_", f"rk_{m}_"))),
        None,
    )
    if mode is None:
        return CheckResult(
            "stripe-mode", False, "STRIPE_SECRET_KEY is not a Stripe secret key (sk_live_…)"
        )
    production = config["PLEDGES_ENV"] == "production"
    if production and mode == "test":
        return CheckResult(
            "stripe-mode", False, "a test-mode key in production: no pledge would ever pay"
        )
    if not production and mode == "live":
        return CheckResult(
            "stripe-mode", False, "a live-mode key outside production: it would charge real cards"
        )
    return CheckResult("stripe-mode", True, f"{mode}-mode key, as {config['PLEDGES_ENV']} wants")


#: An event that has waited this long means no event worker runs, or one event keeps failing.
EVENTS_LATE_AFTER = timedelta(minutes=10)


def stripe_events_handled(app: Flask) -> CheckResult:
    """Webhook events are applied by `handle-stripe-events`: none should wait for long."""
    name = "stripe-events-handled"
    if app.config["PAYMENTS"] != "stripe":
        return CheckResult(name, True, "demo payments: no Stripe events")
    if not migrations(app).passed:
        return CheckResult(name, False, "cannot tell without the database at its schema")
    try:
        late = stripe_inbox.waiting(EVENTS_LATE_AFTER)
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return _failure(name, error)
    finally:
        db.session.remove()
    if late:
        return CheckResult(
            name,
            False,
            f"{late} Stripe events have waited more than {EVENTS_LATE_AFTER.seconds // 60} "
            "minutes: is `handle-stripe-events --forever` running? Its log says why one fails",
        )
    return CheckResult(name, True, "no event has waited long")


def stripe_webhook(app: Flask) -> CheckResult:
    """Stripe sends only the events an endpoint was set up with: one left out is money the
    ledger never hears of (a chargeback it keeps spending). Asking Stripe also proves the key,
    which `stripe-mode` only reads the prefix of."""
    name = "stripe-webhook"
    if app.config["PAYMENTS"] != "stripe":
        return CheckResult(name, True, "demo payments: no Stripe webhook")
    url = app.config["BASE_URL"].rstrip("/") + "/stripe/webhook"
    try:
        endpoints = [
            endpoint
            for endpoint in gateway().webhook_endpoints(timeout=CONNECT_TIMEOUT)
            if _same_address(str(endpoint.get("url", "")), url)
        ]
    except stripe.APIConnectionError as error:  # its first line is Stripe's boilerplate
        return CheckResult(name, False, f"Stripe cannot be reached: {_network_cause(error)}")
    except stripe.PermissionError:
        return CheckResult(
            name, False, "this restricted key may not read webhook endpoints: give it "
            "“Webhook Endpoints: Read” in Stripe's dashboard"
        )  # fmt: skip
    except Exception as error:  # noqa: BLE001 - any failure is the answer
        return _failure(name, error)
    if not endpoints:
        return CheckResult(
            name, False, f"Stripe has no webhook endpoint at {url} in this key's mode: add it "
            "with the events docs/deploy.md lists (section 8)"
        )  # fmt: skip
    enabled = [endpoint for endpoint in endpoints if endpoint.get("status") == "enabled"]
    if not enabled:
        return CheckResult(name, False, f"the webhook endpoint at {url} is disabled in Stripe")
    if len(enabled) > 1:  # each signs with its own secret: one endpoint's events are refused
        return CheckResult(
            name, False, f"{len(enabled)} webhook endpoints at {url}: only one can match "
            "STRIPE_WEBHOOK_SECRET; add the missing events to that one and delete the others"
        )  # fmt: skip
    sent = set(enabled[0].get("enabled_events", []))
    if missing := set() if "*" in sent else set(HANDLERS) - sent:
        return CheckResult(
            name, False, f"Stripe does not send {url} these events: {', '.join(sorted(missing))}: "
            "add them to the endpoint in Stripe's dashboard"
        )  # fmt: skip
    return CheckResult(name, True, f"{url} is sent every event the app handles")


def _network_cause(error: Exception) -> str:
    """The innermost cause in a network error's nested text, e.g. "[Errno 111] Connection
    refused" or "Failed to resolve 'api.stripe.com' (…)"."""
    cause = str(error).rsplit(": ", 1)[-1].rstrip('")')
    return redact(cause + ")" * (cause.count("(") - cause.count(")")))


def _same_address(one: str, other: str) -> bool:
    """The same place for Stripe's requests: the case of the scheme and host, a default port,
    a trailing slash and a query (the route ignores it) aside."""

    def normal(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        port = "" if parts.port in {None, {"http": 80, "https": 443}.get(scheme)} else parts.port
        return scheme, f"{parts.hostname or ''}:{port}", parts.path.rstrip("/")

    return normal(one) == normal(other)


def translations(app: Flask) -> CheckResult:
    """Each language's catalog compiled, and not older than its source."""
    directory = Path(app.config["BABEL_TRANSLATION_DIRECTORIES"].split(";")[0])
    problems = []
    for language in LANGUAGES:
        folder = directory / language / "LC_MESSAGES"
        compiled, source = folder / "messages.mo", folder / "messages.po"
        if not compiled.exists():
            problems.append(f"{language} is not compiled")
        elif source.exists() and source.stat().st_mtime > compiled.stat().st_mtime:
            problems.append(f"{language} changed since it was compiled")
    if problems:
        return CheckResult(
            "translations", False, "; ".join(problems) + ": run `bin/translations compile`"
        )
    return CheckResult("translations", True, f"{', '.join(LANGUAGES)} compiled")


LIVE_CHECKS: list[Callable[[Flask], CheckResult]] = [
    database,
    migrations,
    mail_server,
    rate_limit_storage,
    stripe_mode,
    stripe_webhook,
    stripe_events_handled,
    translations,
]


def examine(app: Flask) -> list[CheckResult]:
    """The configuration's checks, then the live ones, in a fixed order."""
    return settings.results(app.config) + [check(app) for check in LIVE_CHECKS]
