"""A real SMTP server for the tests (aiosmtpd), keeping what it receives in memory and, when
asked, in a Maildir like the development sink that /dev/mail reads."""

import asyncio
import email
import email.policy
import mailbox
import socket
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.maildir: mailbox.Maildir | None = None
        #: address -> the reply that refuses it, e.g. "550 no such user" or "451 try later"
        self.refuse: dict[str, str] = {}
        #: Offer PIPELINING (RFC 2920), as the mail servers a fund relays through do; aiosmtpd
        #: answers pipelined commands in order, it only does not say so.
        self.pipelining = True
        #: Seconds each message waits before it is taken: a worker caught mid-email.
        self.latency = 0.0

    async def handle_EHLO(self, server, session, envelope, hostname, responses) -> list[str]:  # noqa: ANN001, N802
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, options) -> str:  # noqa: ANN001, N802
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: ANN001, N802
        await asyncio.sleep(self.latency)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)
        if self.maildir is not None:
            self.maildir.add(envelope.content)
        return "250 OK"


class SmtpSink:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        self.port = free_port()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def reset(self, maildir: str | None = None) -> None:
        self.handler.messages.clear()
        self.handler.refuse.clear()
        self.handler.pipelining = True
        self.handler.latency = 0.0
        self.handler.maildir = mailbox.Maildir(maildir, create=True) if maildir else None
