"""The app under gunicorn on loopback, as production serves it: separate worker processes that
a test may kill, load and cut off from the database."""

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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
        {
            "DATABASE_URL": database_url,
            "PLEDGES_INSTANCE": str(instance),
            "PLEDGES_ENV": "development",
            "LOG_FORMAT": "json",
            **settings,
        }
    )
    return environment


@dataclass
class Gunicorn:
    process: subprocess.Popen
    url: str
    log: Path

    def worker_pids(self) -> list[int]:
        """The master's children: its workers (never the master itself)."""
        pids = []
        for children in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            try:
                pids += [int(pid) for pid in children.read_text().split()]
            except OSError:
                continue
        return sorted(set(pids) - {self.process.pid})

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextmanager
def gunicorn(
    environment: dict[str, str], *, workers: int = 2, threads: int = 4
) -> Iterator[Gunicorn]:
    """Serve wsgi:app with gunicorn while the block runs; yields once it answers.

    Its log goes to a file in the instance folder (a pipe nobody reads would fill up and stop
    the workers mid-request)."""
    port = free_port()
    instance = Path(environment["PLEDGES_INSTANCE"])
    instance.mkdir(parents=True, exist_ok=True)
    log = instance / "gunicorn.log"
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
             "--timeout", "30", "--graceful-timeout", "5"],
            cwd=ROOT,
            env={**environment, "BASE_URL": base_url},
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    server = Gunicorn(process, base_url, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_up(server: Gunicorn, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=5):
                return
        except OSError:  # not listening yet, or a worker still booting
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer in {timeout} s:\n{server.log_tail()}")
