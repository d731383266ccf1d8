"""An unsafe configuration is refused in one line an operator can act on: by gunicorn before
any worker boots, and by every flask command; never as a traceback, never again and again."""

import os
import subprocess
import sys
from pathlib import Path

from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]
UNSAFE = {
    "PLEDGES_ENV": "production",
    "SECRET_KEY": "short",
    "PLEDGES_DATA_KEY": "a-long-random-data-key-for-tests",
    "BASE_URL": "https://fund.example.org",
    "DATABASE_URL": "postgresql+psycopg://pledges@127.0.0.1:9/pledges",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
}


def run(*command: str) -> subprocess.CompletedProcess:
    ours = ("PLEDGES_", "STRIPE_", "MAIL_", "FUND_", "DATABASE_URL", "SECRET_KEY", "BASE_URL")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env={**environment, **UNSAFE},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gunicorn_refuses_before_any_worker_boots():
    result = run("gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{free_port()}",
                 "wsgi:app")  # fmt: skip

    assert result.returncode == 1
    assert "Error: Pledges will not start: SECRET_KEY has 5 characters" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr


def test_a_worker_that_cannot_boot_stops_gunicorn_not_loops():
    """Where gunicorn's own check did not run (another config file, or a reload after an
    upgrade added a check), the worker's refusal must still stop the master."""
    result = run("gunicorn", "-c", "/dev/null", "--bind", f"127.0.0.1:{free_port()}", "wsgi:app")

    assert result.returncode == 3
    assert result.stderr.count("Booting worker") == 1
    assert "Pledges will not start: SECRET_KEY has 5 characters" in result.stderr


def test_a_flask_command_refuses_in_one_line():
    result = run("flask", "--app", "wsgi", "pledges", "send-reminders")

    assert result.returncode == 3
    first, *rest = result.stderr.strip().splitlines()
    assert first.startswith("Pledges will not start: SECRET_KEY has 5 characters")
    assert rest == ["(`bin/flask pledges doctor` lists every check.)"]
