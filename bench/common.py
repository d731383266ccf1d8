"""What the benchmarks share: the benchmark fund's database and an app bound to it."""

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from pledges import create_app

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/pledges_bench"
)

CONFIG = {
    "PLEDGES_ENV": "development",
    "SECRET_KEY": "benchmark-secret-key-not-for-production",
    "PLEDGES_DATA_KEY": "benchmark-data-key-not-for-production",
    "PAYMENTS": "demo",
    "BASE_URL": "http://bench.invalid",
    "FUND_NAME": "Benchmark Fund",
    "FUND_CURRENCY": "EUR",
    "SQLALCHEMY_DATABASE_URI": DATABASE_URL,
    "RATELIMIT_ENABLED": False,
}


def ensure_database() -> None:
    """Create the benchmark database on the server if it is not there yet."""
    url = make_url(DATABASE_URL)
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
        )
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def bench_app():  # noqa: ANN201
    return create_app(CONFIG)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]
