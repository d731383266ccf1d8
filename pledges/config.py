"""Configuration from the environment, and the checks that make a bad deployment refuse to start."""

import json
import logging
import os
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pledges.i18n import LANGUAGES

DEFAULT_SECRETS = {
    "",
    "dev",
    "development",
    "change-me",
    "changeme",
    "change-this",
    "secret",
    "secret-key",
    "secret_key",
    "your-secret-key",
    "replace-me",
    "test",
}
#: In production a secret must be at least this long, with at least this many different
#: characters: token_urlsafe(32) gives 43, with some 30 different ones.
MIN_SECRET_LENGTH = 32
MIN_SECRET_VARIETY = 8

#: Without WEB_CONCURRENCY, gunicorn.conf.py runs 2 × cores + 1 workers, but no more than this:
#: a small server runs out of memory before it runs out of workers.
MAX_DEFAULT_WORKERS = 8

LOG_FORMATS = ("json", "text")

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


def web_concurrency(value: str | None, cores: int | None = None) -> int:
    """How many gunicorn workers will serve: WEB_CONCURRENCY, or 2 × cores + 1 (capped).

    gunicorn.conf.py and the rate-limit check both ask here, so they cannot disagree.
    """
    value = (value or "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ConfigError(f"WEB_CONCURRENCY must be a whole number of workers, not {value!r}")
        return int(value)
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        cores = cores or os.cpu_count() or 1
    return min(2 * cores + 1, MAX_DEFAULT_WORKERS)


#: Written into the checkout by `bin/setup production`: its settings come from an environment
#: file, and a command run without them must not quietly start a development fund beside it.
PRODUCTION_MARK = ".production"


def from_environment(
    environ: Mapping[str, str], instance_path: str, production_checkout: bool = False
) -> dict[str, Any]:
    """Read every setting the app knows from the environment, with development defaults."""
    env = environ.get("PLEDGES_ENV", "development")
    development = env == "development"
    default_db = "sqlite:///" + str(Path(instance_path) / "pledges.db")
    base_url = environ.get("BASE_URL", "http://127.0.0.1:8000" if development else "")
    return {
        "PLEDGES_ENV": env,
        "PRODUCTION_CHECKOUT": production_checkout,
        "SECRET_KEY": environ.get("SECRET_KEY", ""),
        "PLEDGES_DATA_KEY": environ.get("PLEDGES_DATA_KEY", ""),
        "SQLALCHEMY_DATABASE_URI": environ.get("DATABASE_URL", default_db),
        "ALLOW_SQLITE_IN_PRODUCTION": _flag(environ.get("ALLOW_SQLITE_IN_PRODUCTION")),
        #: The older name of ALLOW_SQLITE_IN_PRODUCTION, still honoured.
        "PLEDGES_ALLOW_SQLITE": _flag(environ.get("PLEDGES_ALLOW_SQLITE")),
        #: How many gunicorn workers serve (see gunicorn.conf.py): rate limits kept in memory
        #: are only right with one.
        "WEB_CONCURRENCY": web_concurrency(environ.get("WEB_CONCURRENCY")),
        #: json (one object per line, production's default) or text (development's).
        "LOG_FORMAT": environ.get("LOG_FORMAT", "text" if development else "json").strip().lower(),
        "LOG_LEVEL": environ.get("LOG_LEVEL", "INFO").strip().upper(),
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
        #: How long each process keeps the fund's public figures (seconds; 0: always fresh).
        "PUBLIC_CACHE_SECONDS": int(environ.get("PUBLIC_CACHE_SECONDS", "30")),
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
    if config["PLEDGES_ENV"] != "development" or config.get("PRODUCTION_CHECKOUT"):
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

    from pledges.money import minor_digits
    from pledges.payments.demo_rates import EUROS_PER_UNIT
    from pledges.payments.stripe_gateway import currency_problem

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
    if config["PAYMENTS"] == "stripe":
        codes = dict.fromkeys([config["FUND_CURRENCY"], *config["PLEDGE_CURRENCIES"]])
        problems += [
            problem
            for code in codes
            if code in known and (problem := currency_problem(code, minor_digits(code))) is not None
        ]
    return problems


def _strength_problem(name: str, value: str, production: bool) -> str | None:
    """Why a secret is too weak, or None. Anywhere: set and not a well-known default; in
    production also long (32 characters or more) and not a short pattern repeated."""
    advice = (
        "set it to a long random value, e.g. "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
    )
    if not value:
        return f"{name} is not set: {advice}"
    if value.lower() in DEFAULT_SECRETS:
        return f"{name} is a well-known default: {advice}"
    minimum = MIN_SECRET_LENGTH if production else 16
    if len(value) < minimum:
        return f"{name} has {len(value)} characters, fewer than {minimum}: {advice}"
    if production and (len(set(value)) < MIN_SECRET_VARIETY or _repeats(value)):
        return f"{name} is a repeated pattern, not random: {advice}"
    return None


def _repeats(value: str) -> bool:
    """Whether `value` is one piece said over and over ("aaaa…", "abcabc…")."""
    return any(
        value == (value[:period] * (len(value) // period + 1))[: len(value)]
        for period in range(1, len(value) // 2 + 1)
    )


class Verdict(NamedTuple):
    passed: bool
    reason: str


def _ok(reason: str) -> Verdict:
    return Verdict(True, reason)


def _verdict(problems: list[str], reason: str) -> Verdict:
    """Failed with every problem named, or passed with `reason`."""
    return Verdict(False, "; ".join(problems)) if problems else _ok(reason)


def _production(config: Mapping[str, Any]) -> bool:
    return config["PLEDGES_ENV"] == "production"


def _check_environment(config: Mapping[str, Any]) -> Verdict:
    env = config["PLEDGES_ENV"]
    if env not in {"development", "production"}:
        return Verdict(False, f"PLEDGES_ENV must be development or production, not {env!r}")
    if config.get("PRODUCTION_CHECKOUT") and env != "production":
        return Verdict(
            False,
            f"PLEDGES_ENV is {env} in a checkout set up for production (bin/setup production): "
            "the settings were not read; run commands through `bin/flask` as the app's user "
            "(it reads /etc/pledges/pledges.env) "
            f"(or delete {PRODUCTION_MARK} to develop in this checkout)",
        )
    return _ok(f"PLEDGES_ENV is {env}")


def _secret_check(name: str) -> Callable[[Mapping[str, Any]], Verdict]:
    def check_secret(config: Mapping[str, Any]) -> Verdict:
        problem = _strength_problem(name, config.get(name) or "", _production(config))
        # The reason never shows the secret, only that it is good enough.
        return _verdict([problem] if problem else [], f"{name} is set and strong enough")

    return check_secret


def _check_payments(config: Mapping[str, Any]) -> Verdict:
    payments = config["PAYMENTS"]
    if payments not in {"demo", "stripe"}:
        return Verdict(False, f"PAYMENTS must be demo or stripe, not {payments!r}")
    if payments == "demo" and _production(config):
        return Verdict(False, "the demo payment gateway cannot run in production (PAYMENTS=stripe)")
    return _ok(f"PAYMENTS is {payments}")


def _check_stripe_keys(config: Mapping[str, Any]) -> Verdict:
    problems = []
    if config["PAYMENTS"] == "stripe" and not config["STRIPE_SECRET_KEY"]:
        problems.append("PAYMENTS=stripe needs STRIPE_SECRET_KEY")
    if (config["PAYMENTS"] == "stripe" or _production(config)) and not config[
        "STRIPE_WEBHOOK_SECRET"
    ]:
        problems.append("STRIPE_WEBHOOK_SECRET must be set (webhooks fail closed without it)")
    if config["PAYMENTS"] != "stripe" and not _production(config):
        return _verdict(problems, "not needed with demo payments")
    return _verdict(problems, "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET are set")


def _check_base_url(config: Mapping[str, Any]) -> Verdict:
    base_url = config["BASE_URL"]
    if not base_url:
        return Verdict(False, "BASE_URL must be set (sign-in links are built from it)")
    if _production(config) and not base_url.startswith("https://"):
        return Verdict(False, "BASE_URL must be https:// in production")
    return _ok(f"BASE_URL is {base_url}")


def _check_embed_origins(config: Mapping[str, Any]) -> Verdict:
    problems = [
        f"EMBED_ALLOWED_ORIGINS: {origin!r} is not an origin (scheme://host[:port], "
        "e.g. https://fund.example.org)"
        for origin in config["EMBED_ALLOWED_ORIGINS"]
        if not _is_embed_origin(origin)
    ]
    return _verdict(problems, f"{len(config['EMBED_ALLOWED_ORIGINS'])} origins may embed")


def _check_currencies(config: Mapping[str, Any]) -> Verdict:
    return _verdict(
        _currency_problems(config), "pledges in " + ", ".join(config["PLEDGE_CURRENCIES"])
    )


def _check_locale(config: Mapping[str, Any]) -> Verdict:
    if config["BABEL_DEFAULT_LOCALE"] not in LANGUAGES:
        return Verdict(False, f"FUND_LOCALE must be one of {', '.join(LANGUAGES)}")
    return _ok(f"FUND_LOCALE is {config['BABEL_DEFAULT_LOCALE']}")


def _check_monthly_goal(config: Mapping[str, Any]) -> Verdict:
    goal = config["FUND_MONTHLY_GOAL"]
    if not isinstance(goal, int) or goal < 0:
        return Verdict(False, "FUND_MONTHLY_GOAL must be a whole number of minor units, 0 for none")
    return _ok(f"FUND_MONTHLY_GOAL is {goal}" if goal else "no monthly goal shown")


def _check_database(config: Mapping[str, Any]) -> Verdict:
    if not config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return _ok("not SQLite")
    if not _production(config):
        return _ok("SQLite (fine outside production)")
    if config.get("ALLOW_SQLITE_IN_PRODUCTION"):
        return _ok("SQLite, allowed by ALLOW_SQLITE_IN_PRODUCTION=1")
    if config.get("PLEDGES_ALLOW_SQLITE"):
        return _ok(
            "SQLite, allowed by PLEDGES_ALLOW_SQLITE=1 "
            "(the older name of ALLOW_SQLITE_IN_PRODUCTION; please rename it)"
        )
    return Verdict(
        False,
        "SQLite in production needs ALLOW_SQLITE_IN_PRODUCTION=1 "
        "(PLEDGES_ALLOW_SQLITE=1, its older name, still works); PostgreSQL is the usual choice",
    )


def _check_rate_limit_storage(config: Mapping[str, Any]) -> Verdict:
    uri = config["RATELIMIT_STORAGE_URI"]
    workers = config.get("WEB_CONCURRENCY") or 1
    if not uri.startswith("memory://"):
        return _ok(f"rate limits kept in {uri.split('://', 1)[0]}://")
    if not _production(config):
        return _ok("rate limits in memory (fine outside production)")
    if workers == 1:
        return _ok("rate limits in memory, with one gunicorn worker (WEB_CONCURRENCY=1)")
    return Verdict(
        False,
        f"RATELIMIT_STORAGE_URI=memory:// with {workers} gunicorn workers: each would keep its "
        "own limits; use shared storage (e.g. redis://127.0.0.1:6379/0) or WEB_CONCURRENCY=1",
    )


def _check_logging(config: Mapping[str, Any]) -> Verdict:
    problems = []
    if config.get("LOG_FORMAT") not in LOG_FORMATS:
        problems.append(f"LOG_FORMAT must be json or text, not {config.get('LOG_FORMAT')!r}")
    if not isinstance(logging.getLevelName(str(config.get("LOG_LEVEL"))), int):
        problems.append(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {config.get('LOG_LEVEL')!r}"
        )
    return _verdict(problems, f"{config.get('LOG_FORMAT')} logs at {config.get('LOG_LEVEL')}")


#: Every configuration check, by name: `check` refuses to start if one fails, and
#: `flask pledges doctor` lists them all.
CHECKS: dict[str, Callable[[Mapping[str, Any]], Verdict]] = {
    "environment": _check_environment,
    "secret-key": _secret_check("SECRET_KEY"),
    "data-key": _secret_check("PLEDGES_DATA_KEY"),
    "payments": _check_payments,
    "stripe-keys": _check_stripe_keys,
    "base-url": _check_base_url,
    "embed-origins": _check_embed_origins,
    "currencies": _check_currencies,
    "fund-locale": _check_locale,
    "monthly-goal": _check_monthly_goal,
    "database-kind": _check_database,
    "rate-limit-storage": _check_rate_limit_storage,
    "logging": _check_logging,
}


class CheckResult(NamedTuple):
    name: str
    passed: bool
    reason: str


def results(config: Mapping[str, Any]) -> list[CheckResult]:
    """Every configuration check with its outcome and the reason for it."""
    return [CheckResult(name, *verdict(config)) for name, verdict in CHECKS.items()]


def doctor_requested(argv: Sequence[str]) -> bool:
    """Whether this process is `flask --app wsgi pledges doctor`: it must start exactly when the
    configuration is wrong, to list every check, pass or fail; it serves nothing."""
    return list(argv[-2:]) == ["pledges", "doctor"]


def check(config: Mapping[str, Any]) -> None:
    """Refuse to start with a configuration that would be unsafe; fail closed, naming every
    problem at once so that one restart fixes them all."""
    problems = [result.reason for result in results(config) if not result.passed]
    if problems:
        raise ConfigError("Pledges will not start: " + "; ".join(problems))
