"""Scrubbing secrets and personal data out of text bound for a log.

Donors and beneficiaries of antifascist funds are targeted by the far right, and logs travel
further than the database does (journald, log shippers, a screenshot in a bug report). Our own
log calls name rows by id only; this is the safety net for whatever else reaches a log line: an
exception's message, a library's debug output, a URL with a token in it.
"""

import re

REDACTED = "[redacted]"

#: Paths whose next segment is a capability: whoever has it may sign in, unsubscribe or pay.
#: `/login/` also covers `/organizer/login/`.
CAPABILITY_PATH = re.compile(
    r"(/(?:login|unsubscribe|demo/checkout|demo/gift|demo/card|dev/mail)/)[^/?#\s\"'<>]+"
)

#: A letter outside ASCII, as written or as a byte escape in a `repr` of UTF-8.
_BEYOND_ASCII = r"[^\x00-\x7f\s]|\\x[0-9a-fA-F]{2}"
#: Where an address may start: not right after a letter it could hold (a long run is then read
#: once, not once from each of its letters: quadratic, a 4 KB path cost a second to log), nor
#: inside a byte escape; after another escape (`\n`) it may.
_ADDRESS_STARTS = (
    r"(?:(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~\\-])(?<![^\x00-\x7f\s])"
    r"|(?<=\\)(?!x[0-9a-fA-F]{2}))"
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (CAPABILITY_PATH, r"\1" + REDACTED),
    # Cookies and form fields that carry a session or a CSRF token, in headers or bodies.
    (
        re.compile(r"(?i)\b(session|remember_token|csrf_token|x-csrftoken)([=:]\s*)[^;&\s,\"']+"),
        r"\1\2" + REDACTED,
    ),
    (re.compile(r"(?i)\b(bearer\s+)[^\s,\"']+"), r"\1" + REDACTED),
    # Our API tokens and Stripe's secrets, whatever surrounds them.
    (re.compile(r"\bplg_[A-Za-z0-9_-]+"), "plg_" + REDACTED),
    (re.compile(r"\b((?:sk|rk)_(?:test|live)_)[A-Za-z0-9]+"), r"\1" + REDACTED),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    # Email addresses, plain or percent-encoded (%40) in a URL, in any script, and as a mail
    # server's reply quotes them in bytes (`\xd0\xbe…`).
    (
        re.compile(
            rf"{_ADDRESS_STARTS}(?:[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]|{_BEYOND_ASCII})+(?:@|%40)"
            rf"(?:[A-Za-z0-9-]|{_BEYOND_ASCII})+(?:\.(?:[A-Za-z0-9-]|{_BEYOND_ASCII})+)+"
        ),
        "[email]",
    ),
    # itsdangerous-signed values (session cookies, CSRF tokens, unsubscribe links): a payload
    # and one or two dot-separated parts ending in a signature of 27 characters or more.
    (re.compile(r"(?<![\w.-])[\w-]{4,}(?:\.[\w-]{4,})?\.[\w-]{27,}(?![\w-])"), REDACTED),
    # Anything that looks random and long: sign-in tokens, session ids, keys.
    (re.compile(r"(?<![\w-])(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{32,}(?![\w-])"), REDACTED),
    # Card numbers and other long digit runs (13-19 digits, maybe grouped by spaces or dashes).
    (re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), "[number]"),
]


def redact(text: str) -> str:
    """`text` with every token, key, email address and card-like number replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_path(path: str) -> str:
    """A request path fit for a log: no query string (search terms, Stripe's session ids,
    addresses typed into a form that used GET) and no capability segment."""
    return redact(path.split("?", 1)[0])
