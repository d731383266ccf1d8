"""Email on the wire: the MIME message and one SMTP connection reused for a batch, its
commands pipelined (RFC 2920) where the server offers it.

The message is written out here rather than by the standard library's email classes: they
fold and re-check every header they write, which cost the mail worker more than rendering
and sending together. The tests read every message back with the standard library's parser.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from email.quoprimime import body_encode
from email.utils import formataddr, formatdate
from functools import lru_cache
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


# The sender is the same on every message, and a month's digests share one subject per
# language: encoding them (RFC 2047) once, not for every message, halves the cost of writing one.
@lru_cache(maxsize=16)
def _from_header(sender: tuple[str, str]) -> str:
    return formataddr(tuple(map(_one_line, sender)), charset="utf-8")


@lru_cache(maxsize=1024)
def _subject_header(subject: str) -> str:
    return Header(_one_line(subject), "utf-8").encode(linesep=CRLF)


def as_bytes(envelope: Envelope) -> bytes:
    """A multipart/alternative message, plain text first, with CRLF line ends as SMTP wants
    (smtplib sends bytes as they are)."""
    plain = {name: _one_line(value) for name, value in envelope.headers.items()}
    plain["To"] = _one_line(envelope.recipient)
    plain["Message-ID"] = _one_line(envelope.message_id)
    if not all(value.isascii() for value in plain.values()):
        raise ValueError("header values other than the subject and sender name must be ASCII")
    boundary = f"=_{uuid.uuid4().hex}"
    lines = [
        f"From: {_from_header(envelope.sender)}",
        f"Subject: {_subject_header(envelope.subject)}",
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
        connection.ehlo_or_helo_if_needed()  # to know whether the server pipelines
        return connection

    def send(self, envelope: Envelope, ready: Callable[[], None] | None = None) -> None:
        """Return on the server's 250 for the message; raise on anything else.

        `ready` is called once the server has taken the envelope, before the message is
        committed with its final dot: what it raises abandons the message unsent.
        """
        if self._connection is None:
            self._connection = self._connect()
        try:
            sender, message = envelope.sender[1], as_bytes(envelope)
            if self._pipelining and sender.isascii() and envelope.recipient.isascii():
                _send_pipelined(self._connection, sender, envelope.recipient, message, ready)
            else:
                if ready is not None:
                    ready()
                self._connection.sendmail(sender, [envelope.recipient], message)
        except Exception:
            self.close()
            raise

    @property
    def _pipelining(self) -> bool:
        return self._connection is not None and self._connection.has_extn("pipelining")

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


_quoted_sender = lru_cache(maxsize=16)(smtplib.quoteaddr)  # the same for every message

#: A line of the message that begins with a dot gets another (RFC 5321, 4.5.2).
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def _send_pipelined(
    connection: smtplib.SMTP,
    sender: str,
    recipient: str,
    message: bytes,
    ready: Callable[[], None] | None = None,
) -> None:
    """MAIL, RCPT and DATA in one write, then the message once DATA's 354 is in: two round
    trips where `sendmail` takes four (RFC 2920). Raises what `sendmail` would."""
    if any(char in address for address in (sender, recipient) for char in "\r\n"):
        raise ValueError("an address cannot carry a line break")
    mail_from, rcpt_to = _quoted_sender(sender), smtplib.quoteaddr(recipient)
    connection.send(f"MAIL FROM:{mail_from}{CRLF}RCPT TO:{rcpt_to}{CRLF}DATA{CRLF}")
    # Every reply is read before any is judged, so that none is left for the next message.
    mail, rcpt, data = connection.getreply(), connection.getreply(), connection.getreply()
    if data[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
        # The server waits for a message it should have refused: drop it unsent (no QUIT,
        # which it would take for the message's first line).
        connection.close()
    if mail[0] != 250:
        raise smtplib.SMTPSenderRefused(*mail, sender)
    if rcpt[0] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: rcpt})
    if data[0] != 354:
        raise smtplib.SMTPDataError(*data)
    if ready is not None:
        try:
            ready()
        except Exception:
            connection.close()  # without the final dot the server drops what it was given
            raise
    body = _LEADING_DOT.sub(b"..", message)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    connection.send(body + b".\r\n")
    code, reply = connection.getreply()
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
