import pytest
from sqlalchemy import text

from pledges import config as settings
from pledges import doctor
from pledges.config import ConfigError
from pledges.extensions import db
from tests.doctor_output import doctor_lines

PRODUCTION = {
    "PLEDGES_ENV": "production",
    "SECRET_KEY": "a-long-random-secret-key-for-tests",
    "PLEDGES_DATA_KEY": "a-long-random-data-key-for-tests",
    "DATABASE_URL": "postgresql+psycopg://pledges@db/pledges",
    "BASE_URL": "https://fund.example.org",
    "PAYMENTS": "stripe",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
}


def checked(environ: dict) -> None:
    settings.check(settings.from_environment(environ, "/nonexistent"))


def test_a_complete_production_configuration_starts():
    checked(PRODUCTION)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"PAYMENTS": "demo"}, "demo payment gateway"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "dev"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"PLEDGES_DATA_KEY": ""}, "PLEDGES_DATA_KEY"),
        ({"DATABASE_URL": "sqlite:///pledges.db"}, "SQLite"),
        ({"BASE_URL": "http://fund.example.org"}, "https"),
        ({"BASE_URL": ""}, "BASE_URL"),
        ({"STRIPE_SECRET_KEY": ""}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET"),
        ({"PLEDGES_ENV": "staging"}, "PLEDGES_ENV"),
        # Found by review: accepted quietly, it skipped every production check.
        ({"PLEDGES_ENV": "testing"}, "PLEDGES_ENV must be development or production"),
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
        # Weak secrets: defaults, too short for production, or no variety.
        ({"SECRET_KEY": "change-me"}, "SECRET_KEY .*default"),
        ({"SECRET_KEY": "x7Kp2QvLm9Rt4WzA8bNc3Df6Gh1Jy5"}, "SECRET_KEY has 30 characters"),
        ({"SECRET_KEY": "a" * 48}, "SECRET_KEY is a repeated pattern"),
        ({"SECRET_KEY": "abc123" * 8}, "SECRET_KEY is a repeated pattern"),
        ({"PLEDGES_DATA_KEY": "change-me"}, "PLEDGES_DATA_KEY .*default"),
        ({"PLEDGES_DATA_KEY": "short-but-sixteen-chars"}, "PLEDGES_DATA_KEY has 23 characters"),
        ({"PLEDGES_DATA_KEY": "0" * 64}, "PLEDGES_DATA_KEY is a repeated pattern"),
        ({"DATABASE_URL": "sqlite:///pledges.db"}, "ALLOW_SQLITE_IN_PRODUCTION=1"),
        ({"DATABASE_URL": "sqlite:///pledges.db"}, "PLEDGES_ALLOW_SQLITE=1, its older name"),
        (
            {"RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "3"},
            "memory:// with 3 gunicorn workers",
        ),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        # Stripe counts these otherwise than ISO 4217, which the app's minor units follow.
        ({"PLEDGE_CURRENCIES": "EUR,ISK"}, "Stripe counts ISK in 2 decimals .* 100 times off"),
        ({"FUND_CURRENCY": "HUF"}, "Stripe counts HUF in 2 decimals"),
        ({"PLEDGE_CURRENCIES": "EUR KWD"}, "Stripe wants amounts in KWD to end in 0"),
    ],
)
def test_production_refuses_an_unsafe_configuration(change, complaint):
    with pytest.raises(ConfigError, match=complaint):
        checked({**PRODUCTION, **change})


def test_currencies_stripe_and_the_app_count_alike_are_accepted():
    checked({**PRODUCTION, "FUND_CURRENCY": "EUR", "PLEDGE_CURRENCIES": "EUR,USD,JPY,UGX,GBP"})


@pytest.mark.parametrize("allow", ["ALLOW_SQLITE_IN_PRODUCTION", "PLEDGES_ALLOW_SQLITE"])
def test_sqlite_in_production_only_when_explicitly_allowed(allow):
    checked({**PRODUCTION, "DATABASE_URL": "sqlite:///p.db", allow: "1"})


def test_the_older_name_for_allowing_sqlite_is_named_as_such():
    config = settings.from_environment(
        {**PRODUCTION, "DATABASE_URL": "sqlite:///p.db", "PLEDGES_ALLOW_SQLITE": "1"}, "/x"
    )
    [result] = [r for r in settings.results(config) if r.name == "database-kind"]
    assert result.passed and "older name of ALLOW_SQLITE_IN_PRODUCTION" in result.reason


def test_production_without_a_webhook_secret_is_refused_whatever_the_gateway():
    config = settings.from_environment({**PRODUCTION, "STRIPE_WEBHOOK_SECRET": ""}, "/x")
    config["PAYMENTS"] = "demo"
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        settings.check(config)


def test_rate_limits_in_memory_are_allowed_with_exactly_one_worker():
    checked({**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "1"})
    with pytest.raises(ConfigError, match="memory:// with 2 gunicorn workers"):
        checked({**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://", "WEB_CONCURRENCY": "2"})


def test_without_web_concurrency_the_workers_are_twice_the_cores_plus_one_capped():
    assert settings.web_concurrency(None, cores=1) == 3
    assert settings.web_concurrency("", cores=2) == 5
    assert settings.web_concurrency(None, cores=64) == settings.MAX_DEFAULT_WORKERS
    assert settings.web_concurrency("4", cores=64) == 4
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
        settings.web_concurrency("many")
    with pytest.raises(ConfigError, match="WEB_CONCURRENCY"):
        settings.web_concurrency("0")


def test_a_long_random_secret_passes_in_production():
    import secrets

    checked(
        {
            **PRODUCTION,
            "SECRET_KEY": secrets.token_hex(16),
            "PLEDGES_DATA_KEY": secrets.token_urlsafe(32),
        }
    )


def test_one_error_names_every_failing_check_and_no_secret():
    environ = {
        **PRODUCTION,
        "SECRET_KEY": "b" * 40,
        "PAYMENTS": "demo",
        "STRIPE_WEBHOOK_SECRET": "",
        "DATABASE_URL": "sqlite:///p.db",
    }
    with pytest.raises(ConfigError) as refused:
        checked(environ)

    message = str(refused.value)
    for complaint in ("SECRET_KEY", "demo payment gateway", "STRIPE_WEBHOOK_SECRET", "SQLite"):
        assert complaint in message
    assert "b" * 40 not in message


def test_every_check_is_listed_with_its_outcome_and_reason():
    results = settings.results(settings.from_environment(PRODUCTION, "/x"))

    assert [r.name for r in results] == list(settings.CHECKS)
    assert all(r.passed and r.reason for r in results)
    for secret in (PRODUCTION["SECRET_KEY"], PRODUCTION["PLEDGES_DATA_KEY"], "whsec_x"):
        assert all(secret not in r.reason for r in results)


def test_logs_are_json_in_production_and_text_in_development():
    assert settings.from_environment(PRODUCTION, "/x")["LOG_FORMAT"] == "json"
    assert settings.from_environment({}, "/x")["LOG_FORMAT"] == "text"
    assert settings.from_environment({"LOG_FORMAT": "JSON"}, "/x")["LOG_FORMAT"] == "json"


def test_doctor_passes_on_a_sound_development_setup(runner):
    exit_code, lines = doctor_lines(runner)

    assert set(settings.CHECKS) < set(lines)
    for live in ("database-reachable", "migrations", "mail-server", "stripe-mode", "translations"):
        assert live in lines
    assert all(line.startswith("✓") for line in lines.values()), lines
    assert exit_code == 0


def test_doctor_names_what_is_unreachable_and_exits_1(config, make_app, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    app = make_app(
        {
            **config,
            "MAIL_PORT": free_port,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'never-migrated.db'}",
        }
    )

    exit_code, lines = doctor_lines(app.test_cli_runner())

    assert exit_code == 1
    assert lines["mail-server"].startswith("✗")
    assert lines["database-reachable"].startswith("✗ no SQLite file")
    assert lines["migrations"].startswith("✗")
    assert lines["secret-key"].startswith("✓")
    assert not (tmp_path / "never-migrated.db").exists()  # the doctor made no empty database


def test_doctor_in_production_without_a_database_url_says_to_set_it(
    config, make_app, tmp_path, monkeypatch
):
    monkeypatch.setattr("sys.argv", ["flask", "--app", "wsgi", "pledges", "doctor"])
    app = make_app(
        {
            **config,
            "PLEDGES_ENV": "production",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'never-made.db'}",
        }
    )
    with app.app_context():
        verdict = doctor.database(app)
    assert not verdict.passed
    assert "set DATABASE_URL" in verdict.reason


def test_doctor_says_when_the_database_is_newer_than_the_code(app):
    """After the code alone was rolled back, upgrading cannot help: the doctor says so."""
    with app.app_context():
        head = db.session.scalar(text("SELECT version_num FROM alembic_version"))
        db.session.execute(text("UPDATE alembic_version SET version_num = 'ffffffff0014'"))
        db.session.commit()
        try:
            verdict = doctor.migrations(app)
        finally:  # the schema is shared by the tests that follow
            db.session.execute(
                text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )
            db.session.commit()
    assert not verdict.passed
    assert "newer than this code (ffffffff0014 is not in it)" in verdict.reason
    assert "db upgrade" not in verdict.reason


def test_the_doctor_starts_on_a_configuration_the_app_refuses(config, make_app, monkeypatch):
    unsafe = {**config, "PLEDGES_ENV": "production", "SECRET_KEY": "dev"}
    with pytest.raises(ConfigError):
        make_app(unsafe)

    monkeypatch.setattr("sys.argv", ["flask", "--app", "wsgi", "pledges", "doctor"])
    exit_code, lines = doctor_lines(make_app(unsafe).test_cli_runner())

    assert exit_code == 1
    assert lines["secret-key"].startswith("✗ SECRET_KEY is a well-known default")
    assert lines["payments"].startswith("✗ the demo payment gateway cannot run in production")
    assert lines["environment"].startswith("✓")


def test_development_defaults_need_no_keys(tmp_path):
    config = settings.from_environment({}, str(tmp_path))
    settings.fill_development_secrets(config, str(tmp_path))
    settings.check(config)

    assert config["PAYMENTS"] == "demo"
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    again = settings.from_environment({}, str(tmp_path))
    settings.fill_development_secrets(again, str(tmp_path))
    assert again["SECRET_KEY"] == config["SECRET_KEY"]  # stable across restarts
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def test_a_production_checkout_run_without_its_settings_is_refused(tmp_path):
    """`bin/setup production` marks the checkout: a command run there without the environment
    file must not start a development fund (SQLite, invented secrets) beside the real one."""
    config = settings.from_environment({}, str(tmp_path), production_checkout=True)
    settings.fill_development_secrets(config, str(tmp_path))

    with pytest.raises(ConfigError, match="set up for production.*bin/flask"):
        settings.check(config)
    assert not (tmp_path / "dev-secrets.json").exists()
    marked = settings.from_environment(PRODUCTION, str(tmp_path), production_checkout=True)
    settings.check(marked)  # with its settings, it starts


def test_production_never_invents_secrets(tmp_path):
    config = settings.from_environment({"PLEDGES_ENV": "production"}, str(tmp_path))
    settings.fill_development_secrets(config, str(tmp_path))
    assert config["SECRET_KEY"] == ""


def test_processes_starting_together_share_one_set_of_secrets(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    def start() -> str:
        config = settings.from_environment({}, str(tmp_path))
        settings.fill_development_secrets(config, str(tmp_path))
        return config["SECRET_KEY"] + config["PLEDGES_DATA_KEY"]

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: start(), range(32)))

    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secrets.json"]
