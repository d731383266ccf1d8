import pytest

from pledges import config as settings
from pledges.config import ConfigError

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
        ({"RATELIMIT_STORAGE_URI": "memory://"}, "RATELIMIT_STORAGE_URI"),
    ],
)
def test_production_refuses_an_unsafe_configuration(change, complaint):
    with pytest.raises(ConfigError, match=complaint):
        checked({**PRODUCTION, **change})


def test_sqlite_in_production_only_when_explicitly_allowed():
    checked({**PRODUCTION, "DATABASE_URL": "sqlite:///p.db", "PLEDGES_ALLOW_SQLITE": "1"})


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
