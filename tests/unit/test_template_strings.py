"""Every user-facing word in a template goes through `_()`, and `pybabel extract` finds them.

Whether each catalog has them all is tests/unit/test_catalogs.py's job. The test strips the Jinja constructs from each template and looks at what is left: text
nodes and user-facing attributes for HTML, the remaining text for plain-text emails. Anything
with a letter in it is text a translator never sees.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"

# `{{ … }}`, `{% … %}` and `{# … #}`, across lines.
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)

# Attributes a person reads or hears. `value` counts only on <input type=submit|button|reset>,
# where it is the label; on <button> it is form data the server reads, not shown.
READABLE_ATTRIBUTES = {"title", "alt", "placeholder", "aria-label"}
BUTTON_INPUTS = {"submit", "button", "reset"}

# Elements whose content is not read as text: scripts, styles, and literal code samples
# (e.g. the `Authorization: Bearer …` header a script must send, which stays as it is).
SKIPPED_ELEMENTS = {"script", "style", "code"}

# Text with letters that is not language, so not translated. Keep this tiny.
ALLOWED = {
    "Message-ID",  # an email header name (RFC 5322) on the demo mailbox; a protocol token
}

LETTER = re.compile(r"[^\W\d_]")


def _blank(match: re.Match) -> str:
    """Replace a Jinja construct with spaces, keeping its newlines so line numbers hold."""
    return re.sub(r"[^\n]", " ", match.group(0))


def _strip_jinja(source: str) -> str:
    return JINJA.sub(_blank, source)


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_ELEMENTS:
            self._skipping += 1
        line = self.getpos()[0]
        attributes = dict(attrs)
        for name, value in attrs:
            if value is None:
                continue
            readable = name in READABLE_ATTRIBUTES or (
                name == "value"
                and tag == "input"
                and (attributes.get("type") or "").lower() in BUTTON_INPUTS
            )
            if readable:
                self.found.append((line, value))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in SKIPPED_ELEMENTS:
            self._skipping -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_ELEMENTS and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        line = self.getpos()[0]
        # A text node can span lines; report each non-blank line at its own number.
        for offset, part in enumerate(data.split("\n")):
            self.found.append((line + offset, part))


def _texts(path: Path) -> list[tuple[int, str]]:
    stripped = _strip_jinja(path.read_text(encoding="utf-8"))
    if path.suffix == ".txt":
        return list(enumerate(stripped.split("\n"), start=1))
    parser = _Texts()
    parser.feed(stripped)
    parser.close()
    return parser.found


def _findings(path: Path) -> list[str]:
    relative = path.relative_to(ROOT)
    findings = []
    for line, text in _texts(path):
        text = " ".join(text.split())
        if LETTER.search(text) and text not in ALLOWED:
            findings.append(f"{relative}:{line}: {text}")
    return findings


def _templates() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*") if p.suffix in (".html", ".txt"))


def test_the_checker_catches_untranslated_text(tmp_path):
    page = tmp_path / "templates" / "page.html"
    page.parent.mkdir()
    page.write_text(
        '<h1>{{ _("Fine") }}</h1>\n'
        "{% if x %}\n"
        "<p>Not fine</p>{# a comment #}\n"
        '<img alt="A picture" src="{{ url }}"><input type="submit" value="Send">\n'
        '<input type="text" value="data"><button value="go">{{ _("Go") }}</button>\n'
        "<script>let words = 1;</script><pre><code>curl example.org</code></pre>\n"
        "{% endif %}\n",
        encoding="utf-8",
    )
    texts = [(line, " ".join(text.split())) for line, text in _texts(page)]
    found = [(line, text) for line, text in texts if LETTER.search(text)]
    assert found == [(3, "Not fine"), (4, "A picture"), (4, "Send")]


def test_templates_have_no_text_outside_gettext():
    templates = _templates()
    assert len(templates) > 50
    findings = [finding for path in templates for finding in _findings(path)]
    assert not findings, "Text outside _() in templates:\n" + "\n".join(findings)
