"""The app under gunicorn on loopback, as production serves it: separate worker processes that
a test may kill, load and cut off from the database."""

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import BASE_CONFIG
from tests.smtp_sink import free_port

ROOT = Path(__file__).resolve().parents[2]


def app_environment(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    """What create_app() reads from the environment for the test fund."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLEDGES_", "STRIPE_", "MAIL_", "FUND_"))
    }
    environment.update({key: str(value) for key, value in BASE_CONFIG.items()})
    environment.update(
        DATABASE_URL=database_url,
        PLEDGES_INSTANCE=str(instance),
        PLEDGES_ENV="development",
        LOG_FORMAT="json",
        **settings,
    )
    return environment


@contextmanager
def gunicorn(environment: dict[str, str], *, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """Serve wsgi:app with gunicorn while the block runs; yields its base URL.

    Its log goes to a file in the instance folder (a pipe nobody reads would fill up and stop
    the workers mid-request)."""
    port = free_port()
    instance = Path(environment["PLEDGES_INSTANCE"])
    instance.mkdir(parents=True, exist_ok=True)
    log = (instance / "gunicorn.log").open("w")
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
         "--timeout", "30", "--graceful-timeout", "5"],
        cwd=ROOT,
        env={**environment, "BASE_URL": base_url},
        stdout=subprocess.DEVNULL,
        stderr=log,
    )  # fmt: skip
    try:
        _wait_until_up(base_url, process, instance / "gunicorn.log")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(base_url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited: " + log.read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer within 30 s")
