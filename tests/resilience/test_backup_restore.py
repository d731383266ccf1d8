"""The backup docs/deploy.md schedules, restored the way it says: `pg_dump --format=custom`,
`pg_restore` into a new database, and the ledger still checks out there."""

import secrets
import shutil
import subprocess

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from pledges.extensions import db
from pledges.models import Allocation, Contribution, Supporter
from pledges.services import demo_data, ledger, supporters


def _libpq_args(url) -> list[str]:
    return ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432),
            "--username", url.username or "postgres"]  # fmt: skip


@pytest.fixture
def scratch_database(database_url):
    """A new, empty database beside the test one, dropped afterwards."""
    url = make_url(database_url)
    name = f"restore_{secrets.token_hex(4)}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_a_nightly_dump_restores_into_a_working_fund(
    app, make_app, config, database_url, scratch_database, tmp_path
):
    for tool in ("pg_dump", "pg_restore"):
        assert shutil.which(tool), f"{tool} is needed (Debian's postgresql-client)"
    with app.app_context():
        demo_data.load()
        db.session.commit()
        counts = {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Supporter, Contribution, Allocation)
        }
        assert all(counts.values()), counts
        db.session.remove()
        db.engine.dispose()

    source = make_url(database_url)
    dump = tmp_path / "pledges.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", f"--file={dump}", *_libpq_args(source), source.database],
        check=True,
    )
    subprocess.run(
        ["pg_restore", "--no-owner", f"--dbname={scratch_database.database}",
         *_libpq_args(scratch_database), str(dump)],
        check=True,
    )  # fmt: skip

    restored = make_app(
        {
            **config,
            "SQLALCHEMY_DATABASE_URI": scratch_database.render_as_string(hide_password=False),
        }
    )
    with restored.app_context():
        assert {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Supporter, Contribution, Allocation)
        } == counts
        assert ledger.check() == []
        # Emails are readable with the same PLEDGES_DATA_KEY, and only with it.
        address = demo_data.SUPPORTERS[0][0]
        assert supporters.find_by_email(address).email == address
        stored = db.session.scalar(text("SELECT email FROM supporters LIMIT 1"))
        assert "@" not in str(stored)
    result = restored.test_cli_runner().invoke(args=["pledges", "ledger-check"])
    assert result.exit_code == 0, result.output
    with restored.app_context():
        db.session.remove()
        db.engine.dispose()
