"""Logs: one JSON object per line on stderr, a request id on every line made during a request,
and nothing in them that names a supporter or opens their account.

journald, a log shipper or `docker logs` keeps stderr; a JSON line per record lets an operator
search by request id or status without parsing prose. Development may ask for plain text
(LOG_FORMAT=text, its default).
"""

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

from pledges.redaction import redact, redact_path

#: What an incoming X-Request-ID may look like to be kept: short, and harmless in a log line.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

#: Fields a record may carry besides its message, in the order a JSON line shows them.
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms")

FORMATS = ("json", "text")

request_log = logging.getLogger("pledges.request")


def accept_request_id(incoming: str | None) -> str:
    """The proxy's request id when it is safe to repeat, so one id follows a request from nginx
    to our logs; otherwise a fresh one."""
    if incoming and SAFE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return secrets.token_hex(8)


def current_request_id() -> str | None:
    """This request's id, made on first use (a before-request hook may answer first)."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = accept_request_id(request.headers.get("X-Request-ID"))
    return g.request_id


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _scrubbed(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


class JsonFormatter(logging.Formatter):
    """One JSON object per record; every text in it redacted once more on the way out."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None:
                # The id is ours or checked against SAFE_REQUEST_ID: kept as it is, to match.
                line[field] = value if field == "request_id" else _scrubbed(value)
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a developer's terminal; redacted like the JSON lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, "request_id", None) is None:
            record.request_id = "-"
        return redact(super().format(record))


class RequestContextFilter(logging.Filter):
    """Put the request id on every record made while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class RedactingFilter(logging.Filter):
    """Replace a record's message and arguments by their redacted rendering, so a handler
    that formats them itself (a test's capture, a mail handler) sees no secret either."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        for field in ("method", "path"):
            value = getattr(record, field, None)
            if isinstance(value, str):
                setattr(record, field, redact(value))
        return True


class CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the moment (a test or `flask` may swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # noqa: ANN201 - whatever sys.stderr is
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter LOG_FORMAT names: `json` (production's default) or `text`."""
    return TextFormatter() if log_format == "text" else JsonFormatter()


def make_handler(log_format: str, stream: Any = None) -> logging.Handler:
    """A handler that writes our format, request ids and redaction included."""
    handler = CurrentStderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(formatter_for(log_format))
    handler.addFilter(RequestContextFilter())
    handler.addFilter(RedactingFilter())
    return handler


def configure(log_format: str, level: str | int = logging.INFO) -> logging.Handler:
    """Send every logger's records to stderr in our format. Safe to call for each app made in
    one process (tests, `flask` commands): there stays one handler."""
    from flask.logging import default_handler

    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_pledges", False)), None)
    if handler is None:
        handler = make_handler(log_format)
        handler._pledges = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    else:
        handler.setFormatter(formatter_for(log_format))
    level_number = logging.getLevelName(level) if isinstance(level, str) else level
    if not isinstance(level_number, int):
        level_number = logging.INFO  # `pledges doctor` says what is wrong with LOG_LEVEL
    handler.setLevel(level_number)
    if root.getEffectiveLevel() > level_number:
        root.setLevel(level_number)
    # The app's logger is named "pledges"; Flask's own handler there would print its records
    # a second time, in another format.
    logging.getLogger("pledges").removeHandler(default_handler)
    # The `stripe` library logs two INFO lines for every API call (its URL and answer): noise
    # beside our own line for the request, and most of a webhook's logging time. Its warnings
    # and errors still come through; LOG_LEVEL=DEBUG shows everything again.
    quiet = level_number if level_number <= logging.DEBUG else max(level_number, logging.WARNING)
    logging.getLogger("stripe").setLevel(quiet)
    return handler


def _start_request() -> None:
    current_request_id()
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    """Send the id back (a supporter's "it failed" can then be found) and log the request."""
    request_id = current_request_id()
    response.headers["X-Request-ID"] = request_id
    started = g.get("request_started")
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    path = redact_path(request.path)
    request_log.info(
        "%s %s %s",
        request.method,
        path,
        response.status_code,
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Configure logging from LOG_FORMAT and LOG_LEVEL, and give each request its id."""
    configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    # First before, last after: the id exists for every other hook, and the status logged is
    # the one sent.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish_request)
