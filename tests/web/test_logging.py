"""Logs are one JSON object per line, tied to the request by its id, and never say who gives:
no address, no name, no token. Each test makes real requests and reads what reached stderr."""

import importlib.util
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from pledges.extensions import client_address, db
from pledges.services import api_tokens
from pledges.web import auth
from tests.factories import make_organizer, make_pledge, make_supporter
from tests.web.test_sign_in import sign_in_link

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(config):
    return {**config, "LOG_FORMAT": "json"}


def log_lines(capsys) -> list[dict]:
    """Every line written to stderr since the last call, each parsed as JSON (or failing)."""
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def request_logged(capsys, send):
    """Send one request; return its response and the lines logged while it was handled."""
    capsys.readouterr()
    response = send()
    return response, log_lines(capsys)


def assert_tied_to(response, lines: list[dict]) -> None:
    request_id = response.headers["X-Request-ID"]
    # The tests' own SMTP sink logs from its thread whenever it likes: the app's lines count.
    lines = [line for line in lines if line["logger"].startswith("pledges")]
    assert lines, "the request left no log line"
    assert all(line.get("request_id") == request_id for line in lines), lines
    [request_line] = [line for line in lines if line["logger"] == "pledges.request"]
    assert request_line["status"] == response.status_code
    assert isinstance(request_line["duration_ms"], float)
    assert request_line["timestamp"].endswith("Z")


def test_signing_in_by_link_logs_neither_the_address_nor_the_token(app, client, smtp, capsys):
    email = "ada.quietly@example.org"
    with app.app_context():
        make_pledge(make_supporter(email, public_name="Ada Quietly"), amount=5_00)
    csrf = client.csrf_token()

    asked, asked_lines = request_logged(
        capsys, lambda: client.post("/login", data={"email": email, "csrf_token": csrf})
    )
    path = sign_in_link(app, smtp, email).removeprefix("http://pledges.test")
    token = path.rsplit("/", 1)[1]
    opened, opened_lines = request_logged(capsys, lambda: client.get(path))
    csrf = client.csrf_token()
    used, used_lines = request_logged(capsys, lambda: client.post(path, data={"csrf_token": csrf}))

    assert (asked.status_code, opened.status_code, used.status_code) == (200, 200, 303)
    for response, lines in ((asked, asked_lines), (opened, opened_lines), (used, used_lines)):
        assert_tied_to(response, lines)
    request_lines = [line for line in opened_lines + used_lines if "path" in line]
    assert {line["path"] for line in request_lines} == {"/login/[redacted]"}
    everything = json.dumps(asked_lines + opened_lines + used_lines)
    for secret in (email, "ada.quietly", "Ada Quietly", token, csrf):
        assert secret not in everything


def test_an_api_call_does_not_log_its_bearer_token(app, client, capsys):
    with app.app_context():
        admin = make_organizer("admin", email="grete.admin@example.org")
        secret = api_tokens.issue("script", ["cases:write"], timedelta(days=1), by=admin).secret
        admin_name = admin.name
        db.session.commit()

    response, lines = request_logged(
        capsys,
        lambda: client.post(
            "/api/v1/cases",
            json={"title": "Legal defence"},
            headers={"Authorization": f"Bearer {secret}", "Idempotency-Key": "k-1"},
        ),
    )

    assert response.status_code in {201, 422}
    assert_tied_to(response, lines)
    everything = json.dumps(lines)
    for leak in (secret, secret.removeprefix("plg_"), "grete.admin", admin_name):
        assert leak not in everything


def test_a_pledge_form_logs_no_address_and_no_name(app, client, capsys):
    csrf = client.csrf_token()
    form = {
        "amount": "10",
        "email": "brave.giver@example.org",
        "earmark": "",
        "show_name": "y",
        "public_name": "Konstanze Brave",
        "csrf_token": csrf,
    }

    response, lines = request_logged(capsys, lambda: client.post("/pledge", data=form))

    assert response.status_code in {302, 303}
    assert_tied_to(response, lines)
    everything = json.dumps(lines)
    for leak in ("brave.giver", "example.org", "Konstanze", csrf):
        assert leak not in everything


def test_a_rate_limited_sign_in_logs_and_stores_no_client_address(app, client, capsys):
    """The limiter logs each breach with its key, and keeps keys in its storage: neither may tie
    an address to an attempt to sign in (found by review)."""
    address = "198.51.100.23"
    csrf = client.csrf_token()
    capsys.readouterr()
    for _ in range(6):
        answer = client.post(
            "/login",
            data={"email": "ada@example.org", "csrf_token": csrf},
            environ_base={"REMOTE_ADDR": address},
        )

    assert answer.status_code == 429
    lines = log_lines(capsys)
    assert any(line["logger"] == "flask-limiter" for line in lines)  # the breach was logged
    assert address not in json.dumps(lines)
    # What the limiter keeps (in Redis, in production) is what its key functions give.
    with app.test_request_context(
        "/login", method="POST", data={"email": "ada@example.org"},
        environ_base={"REMOTE_ADDR": address},
    ):  # fmt: skip
        keys = [auth._address_key(), client_address()]
        other = client_address()
    assert keys[0].startswith("address:") and address not in "".join(keys)
    with app.test_request_context(environ_base={"REMOTE_ADDR": "198.51.100.24"}):
        assert client_address() != other  # still one count per client


def test_a_safe_incoming_request_id_is_kept_and_an_unsafe_one_replaced(client, capsys):
    kept = client.get("/", headers={"X-Request-ID": "edge-7f3a.42_b"})
    replaced = client.get("/", headers={"X-Request-ID": "me@example.org"})
    too_long = client.get("/", headers={"X-Request-ID": "a" * 65})
    lines = log_lines(capsys)

    assert kept.headers["X-Request-ID"] == "edge-7f3a.42_b"
    assert replaced.headers["X-Request-ID"] not in {"me@example.org", ""}
    assert too_long.headers["X-Request-ID"] != "a" * 65
    assert [line["request_id"] for line in lines if line["logger"] == "pledges.request"] == [
        kept.headers["X-Request-ID"],
        replaced.headers["X-Request-ID"],
        too_long.headers["X-Request-ID"],
    ]
    assert "me@example.org" not in json.dumps(lines)


def test_the_filter_scrubs_what_a_careless_log_call_would_leak(app, capsys):
    careless = logging.getLogger("pledges.careless")
    with app.test_request_context("/anything", headers={"X-Request-ID": "r-1"}):
        careless.warning(
            "refused %s paying with %s, key %s and %s, link %s, cookie session=%s",
            "someone@example.org",
            "4242 4242 4242 4242",
            "sk_live_51Habcdef",
            "whsec_abc123",
            "https://fund.example.org/unsubscribe/WzEsInJlbWluZGVycyJd.abcDEF",
            "eyJfZnJlc2giOmZhbHNlfQ.ZxYz.AbCdEfGhIjKlMnOpQrStUvWxYz0",
        )
        try:
            raise ValueError("no supporter plg_abcdefghijklmnop for other@example.org")
        except ValueError:
            careless.exception("failed")

    [warning, failure] = log_lines(capsys)

    assert warning["request_id"] == failure["request_id"] == "r-1"
    everything = json.dumps([warning, failure])
    for leak in (
        "someone@",
        "4242 4242",
        "51Habcdef",
        "abc123",
        "WzEsInJlbWluZGVycyJd",
        "eyJfZnJlc2giOmZhbHNlfQ",
        "abcdefghijklmnop",
        "other@",
    ):
        assert leak not in everything
    assert "/unsubscribe/[redacted]" in warning["message"]
    assert "ValueError" in failure["exception"]


def load_gunicorn_config(monkeypatch, **environ):
    for name in ("PORT", "BIND", "WEB_CONCURRENCY", "TRUSTED_PROXIES", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_listens_on_the_loopback_and_trusts_no_proxy_by_default(monkeypatch):
    conf = load_gunicorn_config(monkeypatch)

    assert conf.bind == ["127.0.0.1:8000"]
    assert conf.worker_class == "gthread" and 2 <= conf.threads <= 4
    assert 3 <= conf.workers <= 8
    assert conf.timeout == 30 and conf.graceful_timeout and conf.keepalive
    assert conf.max_requests and conf.max_requests_jitter
    assert conf.forwarded_allow_ips == ""


def test_gunicorn_takes_port_workers_and_proxies_from_the_environment(monkeypatch):
    conf = load_gunicorn_config(monkeypatch, PORT="9000", WEB_CONCURRENCY="1", TRUSTED_PROXIES="1")

    assert conf.bind == ["127.0.0.1:9000"]
    assert conf.workers == 1
    assert conf.forwarded_allow_ips == "127.0.0.1,::1"


def test_gunicorn_access_log_is_json_without_tokens_queries_or_client_address(monkeypatch, capsys):
    from gunicorn.config import Config

    conf = load_gunicorn_config(monkeypatch, LOG_FORMAT="json")
    cfg = Config()
    cfg.set("accesslog", "-")
    logger = conf.PledgesLogger(cfg)
    response = SimpleNamespace(status="200 OK", headers=[("X-Request-ID", "req-9")], sent=10)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/organizer/login/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA?email=a%40b.org",
        "PATH_INFO": "/organizer/login/Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA",
        "REMOTE_ADDR": "203.0.113.9",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    capsys.readouterr()

    logger.access(response, None, environ, timedelta(milliseconds=12))

    [line] = log_lines(capsys)
    assert line["logger"] == "gunicorn.access"
    assert line["path"] == "/organizer/login/[redacted]"
    assert line["request_id"] == "req-9"
    assert line["status"] == 200
    assert line["duration_ms"] == 12.0
    text = json.dumps(line)
    for leak in ("Zm9vYmFy", "a%40b.org", "email=", "203.0.113.9"):
        assert leak not in text


def _command_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """What a command run as a process needs: a fund of its own in `tmp_path`."""
    return {
        **os.environ,
        "PLEDGES_INSTANCE": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'pledges.db'}",
        "PLEDGES_ENV": "development",
        **settings,
    }


def test_gunicorn_accepts_the_config_file(tmp_path):
    environ = _command_environment(tmp_path)
    gunicorn = Path(sys.executable).with_name("gunicorn")

    result = subprocess.run(
        [gunicorn, "--check-config", "-c", "gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr


def test_migrations_log_in_the_apps_format(tmp_path):
    """`flask db upgrade` keeps the app's handler (alembic.ini's would print plain text)."""
    environ = _command_environment(tmp_path, LOG_FORMAT="json")
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(line["message"].startswith("Running upgrade") for line in lines), lines
