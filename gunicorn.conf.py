"""gunicorn's settings for Pledges on a small server, behind a reverse proxy (nginx).

Run `gunicorn -c gunicorn.conf.py wsgi:app`. Everything comes from the environment, like the
app's own settings:

- PORT or BIND: where to listen (default 127.0.0.1:8000; the proxy faces the internet);
- WEB_CONCURRENCY: worker processes (default 2 × cores + 1, at most 8); GUNICORN_THREADS: threads
  per worker (default 4), so a slow Stripe or SMTP call does not hold a whole worker;
- TRUSTED_PROXIES: only when set does gunicorn believe X-Forwarded-* headers, and only from
  FORWARDED_ALLOW_IPS (default the local host, where nginx runs);
- LOG_FORMAT / LOG_LEVEL: as for the app; GUNICORN_ACCESS_LOG=1 adds gunicorn's own access log
  (the app already logs one line per request, with its request id).

Every line gunicorn writes is in the app's format, redacted the same way: no query strings, no
sign-in or unsubscribe tokens, no client address.
"""

import gc
import os

from gunicorn.glogging import Logger

from pledges.config import web_concurrency
from pledges.logging_setup import make_handler
from pledges.redaction import redact_path

# Where to listen: BIND wins, else PORT on the loopback only.
bind = [os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]

workers = web_concurrency(os.environ.get("WEB_CONCURRENCY"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# A worker silent this long is hung and is restarted (with gthread the worker beats while its
# threads wait on Stripe or SMTP); a restart lets requests in flight finish for up to
# graceful_timeout; the proxy may keep an idle connection open for keepalive seconds.
timeout = 30
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then, at different times, so a slow leak never grows big. Rarely:
# a worker's restart costs its requests in flight a second (bench.http saw p99 jump at 1,000).
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10

# Only behind a proxy we were told about do X-Forwarded-* headers mean anything.
if os.environ.get("TRUSTED_PROXIES", "0").strip() not in {"", "0"}:
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
else:
    forwarded_allow_ips = ""

# Limits on what a client may send before the app sees it.
limit_request_line = 4094
limit_request_fields = 100

# The shared-memory tmp directory keeps the workers' heartbeats off a slow disk.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# gunicorn's runtime control socket would be made in the service user's home, which the
# systemd unit keeps read-only; a restart does everything it would.
control_socket_disable = True

errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
accesslog = "-" if os.environ.get("GUNICORN_ACCESS_LOG", "") in {"1", "true", "yes"} else None
proc_name = "pledges"


def _log_format() -> str:
    production = os.environ.get("PLEDGES_ENV", "development") != "development"
    return os.environ.get("LOG_FORMAT", "json" if production else "text").strip().lower()


class PledgesLogger(Logger):
    """gunicorn's logger, writing the app's format to stderr, redacted like the app's lines."""

    def setup(self, cfg) -> None:  # noqa: ANN001 - gunicorn's Config
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                if getattr(handler, "_gunicorn", False):
                    log.removeHandler(handler)
                    ours = make_handler(_log_format(), None)
                    ours._gunicorn = True  # type: ignore[attr-defined]
                    log.addHandler(ours)

    def access(self, resp, req, environ, request_time) -> None:  # noqa: ANN001
        """One line per request: method, path without query or tokens, status, duration, and
        the request id the app answered with. No client address, referrer or user agent."""
        if not self.access_log_enabled:
            return
        headers = dict((name.lower(), value) for name, value in (resp.headers or []))
        status = str(resp.status).split(None, 1)[0]
        path = redact_path(environ.get("RAW_URI") or environ.get("PATH_INFO", ""))
        method = environ.get("REQUEST_METHOD", "-")
        duration_ms = round(request_time.total_seconds() * 1000, 1)
        self.access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": headers.get("x-request-id"),
                "method": method,
                "path": path,
                "status": int(status) if status.isdigit() else status,
                "duration_ms": duration_ms,
            },
        )


logger_class = PledgesLogger


def on_starting(server) -> None:  # noqa: ANN001 - gunicorn's Arbiter
    """Refuse an unsafe configuration here, before any worker boots: gunicorn prints the one
    line and exits, where each worker would fail with it deep in a traceback, again and again."""
    from pledges import load_config
    from pledges.config import check

    check(load_config())


def post_worker_init(worker) -> None:  # noqa: ANN001 - gunicorn's Worker
    """With the app loaded, set what is in memory aside from the garbage collector
    (`gc.freeze`): the app, its libraries and their data live as long as the worker, and a full
    collection walking them all stalled one request in a few hundred by 50 to 100 ms (the
    member page's p99 in bench/http.py)."""
    gc.collect()
    gc.freeze()
