"""Email on the wire: the MIME message and one SMTP connection reused for a batch.

The message is written out here rather than by the standard library's email classes: they
fold and re-check every header they write, which cost the mail worker more than rendering
and sending together. The tests read every message back with the standard library's parser.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from email.header import Header
from email.quoprimime import body_encode
from email.utils import formataddr, formatdate
from typing import Any

log = logging.getLogger(__name__)

CRLF = "\r\n"


@dataclass
class Envelope:
    sender: tuple[str, str]
    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)


def _one_line(value: str) -> str:
    """No header may carry a line break: a case title cannot add a Bcc."""
    return " ".join(value.splitlines())


def _part(content_type: str, body: str) -> list[str]:
    # Quoted-printable keeps lines short and the raw source readable, unlike base64.
    return [
        f'Content-Type: {content_type}; charset="utf-8"',
        "Content-Transfer-Encoding: quoted-printable",
        "",
        body_encode(body.encode("utf-8").decode("latin-1"), eol=CRLF),
    ]


def as_bytes(envelope: Envelope) -> bytes:
    """A multipart/alternative message, plain text first, with CRLF line ends as SMTP wants
    (smtplib sends bytes as they are)."""
    plain = {name: _one_line(value) for name, value in envelope.headers.items()}
    plain["To"] = _one_line(envelope.recipient)
    plain["Message-ID"] = _one_line(envelope.message_id)
    if not all(value.isascii() for value in plain.values()):
        raise ValueError("header values other than the subject and sender name must be ASCII")
    boundary = f"=_{uuid.uuid4().hex}"
    subject = Header(_one_line(envelope.subject), "utf-8").encode(linesep=CRLF)
    lines = [
        f"From: {formataddr(tuple(map(_one_line, envelope.sender)), charset='utf-8')}",
        f"Subject: {subject}",
        f"Date: {formatdate(usegmt=True)}",
        *(f"{name}: {value}" for name, value in plain.items()),
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        f"--{boundary}",
        *_part("text/plain", envelope.text),
        f"--{boundary}",
        *_part("text/html", envelope.html),
        f"--{boundary}--",
        "",
    ]
    return CRLF.join(lines).encode("ascii")


class SmtpSession:
    """One SMTP connection, opened when the first message goes and dropped after a failure."""

    def __init__(self, config: dict[str, Any]) -> None:
        self._config = config
        self._connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = self._config
        host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
        if config.get("MAIL_USE_SSL"):
            connection = smtplib.SMTP_SSL(
                host, port, timeout=30, context=ssl.create_default_context()
            )
        else:
            connection = smtplib.SMTP(host, port, timeout=30)
            if config.get("MAIL_USE_TLS"):
                connection.starttls(context=ssl.create_default_context())
        if config.get("MAIL_USERNAME"):
            connection.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        return connection

    def send(self, envelope: Envelope) -> None:
        """Return on the server's 250 for the message; raise on anything else."""
        if self._connection is None:
            self._connection = self._connect()
        try:
            self._connection.sendmail(envelope.sender[1], [envelope.recipient], as_bytes(envelope))
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.quit()
            except Exception:  # noqa: BLE001 - a connection that already broke cannot quit
                log.debug("SMTP connection closed uncleanly")

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
