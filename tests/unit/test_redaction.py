"""What reaches a log or an unencrypted column keeps no address, whatever its script."""

import smtplib

import pytest

from pledges.redaction import redact


@pytest.mark.parametrize(
    "address",
    ["ana@example.org", "Ana.B+fund@mail.example.co.uk", "олена@пошта.укр", "jörg@bücher.de"],
)
def test_an_address_is_gone_as_written_and_as_a_mail_server_s_refusal_quotes_it(address):
    """Found by review: a refusal quotes the address in bytes (`\\xd0\\xbe…`), and only ASCII
    addresses were recognised; the rest stayed in the outbox's plain `last_error`."""
    refusal = smtplib.SMTPRecipientsRefused({address: (452, f"<{address}>: full".encode())})

    for text in (f"to {address}, now", str(refusal)):
        kept = redact(text)
        assert "[email]" in kept
        assert address.split("@")[0] not in kept
        assert repr(address.encode())[2:-1].split("@")[1] not in kept


def test_what_is_not_an_address_stays():
    assert redact("452 4.2.2 mailbox full, try again later") == (
        "452 4.2.2 mailbox full, try again later"
    )


@pytest.mark.parametrize(
    "line",
    [
        "hello\\nana@example.org",  # after another escape, in a repr
        "hello\u00a0ana@example.org",  # after a space that is not ASCII
        "C:\\mail\\ana@example.org",
        "/login?email=ana@example.org&next=/",
    ],
)
def test_an_address_is_found_wherever_it_starts(line):
    """An address starts only where no letter of it comes before (the pattern reads a long
    run once; bench/redaction.py shows the time grow with the line, not its square)."""
    assert "ana@" not in redact(line) and "[email]" in redact(line)
