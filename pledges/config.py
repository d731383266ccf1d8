"""Configuration from the environment, and the checks that make a bad deployment refuse to start."""

import json
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pledges.i18n import LANGUAGES

DEFAULT_SECRETS = {"", "dev", "change-me", "changeme", "secret"}

#: An origin as CSP's frame-ancestors names one: scheme, host (its first label may be `*`, for
#: every subdomain) and an optional port; no path, no bare `*`, no keyword like 'self'.
EMBED_ORIGIN = re.compile(
    r"https?://(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?"
)


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def _flag(value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def embed_origins(value: str | None) -> list[str]:
    """The origins listed in EMBED_ALLOWED_ORIGINS (commas or spaces between them), lower-cased
    and without the trailing slash an address bar adds. `check` refuses any that is not one."""
    return [
        origin.lower().removesuffix("/") for origin in re.split(r"[\s,]+", value or "") if origin
    ]


def _is_embed_origin(origin: object) -> bool:
    if not isinstance(origin, str) or not EMBED_ORIGIN.fullmatch(origin):
        return False
    port = origin.split(":")[2] if origin.count(":") == 2 else "443"
    return 0 < int(port) < 65536


def currency_codes(value: str | None) -> list[str]:
    """The codes in PLEDGE_CURRENCIES (commas or spaces between them)."""
    return [code.upper() for code in re.split(r"[\s,]+", value or "") if code]


def _minor_units(environ: Mapping[str, str], name: str) -> int:
    value = environ.get(name, "").strip() or "0"
    if not value.isdigit():
        raise ConfigError(f"{name} must be a whole number of minor units (cents), not {value!r}")
    return int(value)


def from_environment(environ: Mapping[str, str], instance_path: str) -> dict[str, Any]:
    """Read every setting the app knows from the environment, with development defaults."""
    env = environ.get("PLEDGES_ENV", "development")
    development = env == "development"
    default_db = "sqlite:///" + str(Path(instance_path) / "pledges.db")
    base_url = environ.get("BASE_URL", "http://127.0.0.1:8000" if development else "")
    return {
        "PLEDGES_ENV": env,
        "SECRET_KEY": environ.get("SECRET_KEY", ""),
        "PLEDGES_DATA_KEY": environ.get("PLEDGES_DATA_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": environ.get("DATABASE_URL", default_db),
        "PLEDGES_ALLOW_SQLITE": _flag(environ.get("PLEDGES_ALLOW_SQLITE")),
        "BASE_URL": base_url.rstrip("/"),
        "PAYMENTS": environ.get("PAYMENTS", "demo" if development else "stripe"),
        "STRIPE_SECRET_KEY": environ.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": environ.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": environ.get("STRIPE_API_BASE", ""),
        "MAIL_SERVER": environ.get("MAIL_SERVER", "127.0.0.1"),
        "MAIL_PORT": int(environ.get("MAIL_PORT", "8025" if development else "25")),
        "MAIL_USERNAME": environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _flag(environ.get("MAIL_USE_TLS")),
        "MAIL_USE_SSL": _flag(environ.get("MAIL_USE_SSL")),
        "MAIL_DEFAULT_SENDER": environ.get("MAIL_DEFAULT_SENDER", "pledges@localhost"),
        "DEV_MAILDIR": environ.get("DEV_MAILDIR", str(Path(instance_path) / "mail")),
        "FUND_NAME": environ.get("FUND_NAME", "Solidarity Fund"),
        "FUND_CURRENCY": environ.get("FUND_CURRENCY", "EUR").upper(),
        #: The currencies a pledge may be made in; payments are converted to FUND_CURRENCY.
        "PLEDGE_CURRENCIES": currency_codes(environ.get("PLEDGE_CURRENCIES")),
        #: The fund's own language: for visitors whose browser asks for none we have.
        "BABEL_DEFAULT_LOCALE": environ.get("FUND_LOCALE", "en").strip().lower(),
        #: What the fund hopes active pledges bring each month, in minor units; 0: no goal shown.
        "FUND_MONTHLY_GOAL": _minor_units(environ, "FUND_MONTHLY_GOAL"),
        #: The sites that may show the pledge widget (/embed/pledge) in a frame; none by default.
        "EMBED_ALLOWED_ORIGINS": embed_origins(environ.get("EMBED_ALLOWED_ORIGINS")),
        #: How many days before a renewal its reminder goes out.
        "REMINDER_DAYS": int(environ.get("REMINDER_DAYS", "3")),
        "RATELIMIT_STORAGE_URI": environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # Said outright: Flask-Limiter otherwise keeps whatever an earlier app in the same
        # process set, and one app without limits would leave every later one without them.
        "RATELIMIT_ENABLED": True,
        # A script told "429" is also told when to try again (Retry-After, X-RateLimit-*).
        "RATELIMIT_HEADERS_ENABLED": True,
        "TRUSTED_PROXIES": int(environ.get("TRUSTED_PROXIES", "0")),
    }


def derived_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Settings that follow from others rather than being chosen on their own."""
    production = config["PLEDGES_ENV"] == "production"
    return {
        # The ledger's own currency is always accepted, and offered first.
        "PLEDGE_CURRENCIES": list(
            dict.fromkeys([config["FUND_CURRENCY"], *config["PLEDGE_CURRENCIES"]])
        ),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": production,
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "WTF_CSRF_HEADERS": ["X-CSRFToken"],
        # Our pages send no Referer (Referrer-Policy: no-referrer), so Flask-WTF's HTTPS check
        # that the Referer names our host would refuse every form. The token, bound to the
        # session, and SameSite cookies are the protection.
        "WTF_CSRF_SSL_STRICT": False,
        # The token is bound to the session; an hour's limit only loses what a supporter typed
        # into a tab left open.
        "WTF_CSRF_TIME_LIMIT": None,
    }


def fill_development_secrets(config: dict[str, Any], instance_path: str) -> None:
    """Give a development checkout stable random secrets, kept in its own instance folder.

    Never used in production: there a missing secret stops the app instead.
    """
    if config["PLEDGES_ENV"] != "development":
        return
    missing = [name for name in ("SECRET_KEY", "PLEDGES_DATA_KEY") if not config[name]]
    if not missing:
        return
    path = Path(instance_path) / "dev-secrets.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    stored = _read_or_create_secrets(path)
    for name in missing:
        config[name] = stored[name]


def _read_or_create_secrets(path: Path) -> dict[str, str]:
    """Several processes start at once (gunicorn's workers, the mail worker): the file is
    created whole or not at all, and the first to create it wins for everyone."""
    if not path.exists():
        fresh = {name: secrets.token_urlsafe(32) for name in ("SECRET_KEY", "PLEDGES_DATA_KEY")}
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        draft.write_text(json.dumps(fresh))
        os.chmod(draft, 0o600)
        try:
            os.link(draft, path)  # atomic, and refuses to replace another process's file
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return json.loads(path.read_text())


def _currency_problems(config: Mapping[str, Any]) -> list[str]:
    from babel.numbers import list_currencies

    from pledges.payments.demo_rates import EUROS_PER_UNIT

    known = list_currencies()
    problems = [
        f"{name} has {code!r}, not an ISO 4217 currency code"
        for name, codes in (
            ("FUND_CURRENCY", [config["FUND_CURRENCY"]]),
            ("PLEDGE_CURRENCIES", config["PLEDGE_CURRENCIES"]),
        )
        for code in codes
        if code not in known
    ]
    if config["PAYMENTS"] == "demo":
        problems += [
            f"demo payments have no rate for {code} (they know {', '.join(EUROS_PER_UNIT)})"
            for code in config["PLEDGE_CURRENCIES"]
            if code in known and code not in EUROS_PER_UNIT
        ]
    return problems


def check(config: Mapping[str, Any]) -> None:
    """Refuse to start with a configuration that would be unsafe; fail closed."""
    problems = []
    env = config["PLEDGES_ENV"]
    if env not in {"development", "production", "testing"}:
        problems.append(f"PLEDGES_ENV must be development or production, not {env!r}")
    for name in ("SECRET_KEY", "PLEDGES_DATA_KEY"):
        value = config.get(name) or ""
        if value.lower() in DEFAULT_SECRETS or len(value) < 16:
            problems.append(f"{name} must be set to a long random value")
    payments = config["PAYMENTS"]
    if payments not in {"demo", "stripe"}:
        problems.append(f"PAYMENTS must be demo or stripe, not {payments!r}")
    if payments == "stripe":
        if not config["STRIPE_SECRET_KEY"]:
            problems.append("PAYMENTS=stripe needs STRIPE_SECRET_KEY")
        if not config["STRIPE_WEBHOOK_SECRET"]:
            problems.append("PAYMENTS=stripe needs STRIPE_WEBHOOK_SECRET (webhooks fail closed)")
    if not config["BASE_URL"]:
        problems.append("BASE_URL must be set (sign-in links are built from it)")
    problems += [
        f"EMBED_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], "
        "e.g. https://fund.example.org)"
        for origin in config["EMBED_ALLOWED_ORIGINS"]
        if not _is_embed_origin(origin)
    ]
    problems += _currency_problems(config)
    if config["BABEL_DEFAULT_LOCALE"] not in LANGUAGES:
        problems.append(f"FUND_LOCALE must be one of {', '.join(LANGUAGES)}")
    if not isinstance(config["FUND_MONTHLY_GOAL"], int) or config["FUND_MONTHLY_GOAL"] < 0:
        problems.append("FUND_MONTHLY_GOAL must be a whole number of minor units, 0 for none")
    if env == "production":
        if payments == "demo":
            problems.append("the demo payment gateway cannot run in production")
        uri = config["SQLALCHEMY_DATABASE_URI"]
        if uri.startswith("sqlite") and not config["PLEDGES_ALLOW_SQLITE"]:
            problems.append("SQLite in production needs PLEDGES_ALLOW_SQLITE=1")
        if not config["BASE_URL"].startswith("https://"):
            problems.append("BASE_URL must be https:// in production")
        if config["RATELIMIT_STORAGE_URI"].startswith("memory://"):
            problems.append(
                "RATELIMIT_STORAGE_URI must be shared storage in production (e.g. redis://), "
                "or each gunicorn worker keeps its own limits"
            )
    if problems:
        raise ConfigError("Pledges will not start: " + "; ".join(problems))
