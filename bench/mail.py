"""The mail machinery on the seeded fund (run `python -m bench.seed` first).

Prints: queuing October's monthly digest for everyone who gave (time, peak memory), and
delivering digests to a local SMTP server with one worker (emails per second, and how many
distinct Message-IDs the server took: the same as the number sent, or one went twice). The
queued rows are removed afterwards, so it can run again.

    .venv/bin/python -m bench.mail
"""

import socket
import time
from datetime import date
from email.parser import BytesHeaderParser
from multiprocessing import Event, Process, Value

from aiosmtpd.controller import Controller
from sqlalchemy import delete, func, select, text

from bench.common import CONFIG
from bench.ledger import _peak_rss_mb, _reset_peak_rss
from pledges import create_app
from pledges.extensions import db
from pledges.models import OutboxEmail
from pledges.services import mail_outbox, reminders

DELIVERED = 2_000
HEADERS = BytesHeaderParser()


class Counting:
    """Parses the header of every message it takes and counts the distinct Message-IDs: an
    email sent twice counts once, and one cut off before its final dot never gets here. It
    offers PIPELINING (RFC 2920), as the mail servers a fund relays through do; aiosmtpd
    answers pipelined commands in order, it only does not say so."""

    def __init__(self, received: Value, distinct: Value) -> None:
        self.received, self.distinct = received, distinct
        self.message_ids: set[str] = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # noqa: ANN001, N802
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        # The header only: it names the message, and parsing the parts too would hold up the
        # server's answer, which the worker waits for, by more than rendering the message.
        headers = HEADERS.parsebytes(envelope.content)
        if "multipart/alternative" not in headers.get("Content-Type", ""):
            return "554 not the message we expected"
        self.message_ids.add(headers["Message-ID"])
        with self.received.get_lock():
            self.received.value += 1
        self.distinct.value = len(self.message_ids)
        return "250 OK"


def serve(port: int, received: Value, distinct: Value, ready: Event) -> None:
    """The SMTP server in a process of its own, as a local mail server would be: in the
    worker's process it would compete with it for the interpreter."""
    controller = Controller(Counting(received, distinct), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


def main() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    received, distinct, ready = Value("i", 0), Value("i", 0), Event()
    server = Process(target=serve, args=(port, received, distinct, ready), daemon=True)
    server.start()
    ready.wait(30)
    app = create_app({**CONFIG, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
                      "MAIL_DEFAULT_SENDER": "fund@bench.invalid"})  # fmt: skip
    try:
        with app.app_context(), app.test_request_context():
            db.session.execute(delete(OutboxEmail).where(OutboxEmail.kind == "digest"))
            db.session.commit()
            db.session.execute(text("SELECT 1"))
            _reset_peak_rss()
            before = _peak_rss_mb()
            started = time.perf_counter()
            queued = reminders.queue_digests(date(2026, 10, 1))
            db.session.commit()
            elapsed = time.perf_counter() - started
            print(
                f"queue monthly digest: {queued:,} emails in {elapsed:.1f} s, "
                f"peak memory {_peak_rss_mb():.0f} MB (from {before:.0f} MB)"
            )
            again = reminders.queue_digests(date(2026, 10, 1))
            db.session.commit()
            print(f"queue it again: {again} more (the month's keys stand)")
            # As autovacuum would after so many new rows: earlier runs' deleted rows would
            # otherwise linger in the outbox's index.
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM ANALYZE outbox_emails")
                )

            started = time.perf_counter()
            sent = 0
            while sent < DELIVERED:
                report = mail_outbox.deliver_due(limit=200)
                sent += report.sent
                if not report.handled:
                    break
            elapsed = time.perf_counter() - started
            print(
                f"deliver with one worker: {sent:,} digests in {elapsed:.1f} s = "
                f"{sent / elapsed:.0f} emails/s (server received {received.value:,}, "
                f"{distinct.value:,} distinct Message-IDs)"
            )
            db.session.execute(delete(OutboxEmail).where(OutboxEmail.kind == "digest"))
            db.session.commit()
            left = db.session.scalar(select(func.count()).select_from(OutboxEmail))
            print(f"outbox rows left from other kinds: {left}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
