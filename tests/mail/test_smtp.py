"""The wire: messages go out whole over one connection, pipelined (RFC 2920) where the server
offers it and one command at a time where it does not, and a refusal is reported as such."""

import smtplib

import pytest

from pledges.smtp import Envelope, SmtpSession


def envelope(number: int, *, recipient: str = "reader@example.org", text: str = "") -> Envelope:
    return Envelope(
        sender=("Test Solidarity Fund", "fund@pledges.test"),
        recipient=recipient,
        subject=f"Message {number}: Grüße",
        text=text or f"Message {number}\n",
        html=f"<p>Message {number}</p>\n",
        message_id=f"<{number}@pledges.test>",
        headers={"List-Unsubscribe": "<http://pledges.test/u/1>"},
    )


def session_for(smtp) -> SmtpSession:  # noqa: ANN001
    return SmtpSession({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port})


@pytest.mark.parametrize("pipelining", [True, False])
def test_messages_arrive_whole_and_in_order_over_one_connection(smtp, pipelining):
    smtp.reset()
    smtp.handler.pipelining = pipelining
    # A line that begins with a dot would end the message early were it not doubled.
    text = "First line\n.\n..two dots\n. a dot and a space\n"

    with session_for(smtp) as session:
        for number in range(5):
            session.send(envelope(number, text=text))
        assert session._pipelining is pipelining

    assert [m["Message-ID"] for m in smtp.messages] == [f"<{n}@pledges.test>" for n in range(5)]
    assert {m["Subject"] for m in smtp.messages} == {f"Message {n}: Grüße" for n in range(5)}
    for message in smtp.messages:
        assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
        assert message.get_body(("html",)).get_content().startswith("<p>Message")


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize(
    ("reply", "permanent"), [("550 5.1.1 no such user", True), ("451 4.3.0 try later", False)]
)
def test_a_refused_recipient_raises_and_the_next_message_still_goes(
    smtp, pipelining, reply, permanent
):
    smtp.reset()
    smtp.handler.pipelining = pipelining
    smtp.handler.refuse["gone@example.org"] = reply

    with session_for(smtp) as session:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            session.send(envelope(1, recipient="gone@example.org"))
        [(code, _)] = refused.value.recipients.values()
        assert (code >= 500) is permanent
        session.send(envelope(2))

    assert [m["Message-ID"] for m in smtp.messages] == ["<2@pledges.test>"]


def test_a_line_break_in_an_address_is_refused_before_anything_is_sent(smtp):
    smtp.reset()
    with session_for(smtp) as session, pytest.raises(ValueError, match="line break"):
        session.send(envelope(1, recipient="a@example.org\r\nRCPT TO:<b@example.org>"))
    assert smtp.messages == []
