"""The app's forms as a browser finds them, and what a browser would make of a page's markup.

Forms are read from the pages themselves (html.parser), not from the form classes: a form added
to a template is found and driven without anyone listing it, and a field that a template adds
by hand (a hidden `pledge`, a `confirm` box, an `action` button) is driven too.
"""

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

#: Input types a visitor types into; the others (radio, checkbox, hidden, buttons) are chosen.
TYPED = {"text", "email", "search", "tel", "url", "password", "number", "date", "textarea", ""}


@dataclass
class Field:
    name: str
    kind: str  # an <input> type, "textarea", "select" or "button"
    values: list[str] = field(default_factory=list)  # as the page offers or fills them in
    multiple: bool = False

    @property
    def typed(self) -> bool:
        return self.kind in TYPED


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, Field] = field(default_factory=dict)
    htmx: bool = False  # the page posts it with hx-post

    def add(self, name: str, kind: str, value: str | None, *, multiple: bool = False) -> None:
        found = self.fields.get(name)
        if found is None:
            found = self.fields[name] = Field(name, kind, multiple=multiple)
        elif kind == "checkbox":
            found.multiple = True  # several boxes of one name: a list to choose from
        if value is not None and value not in found.values:
            found.values.append(value)

    def defaults(self) -> dict[str, str]:
        """What the form sends as the page shows it: the first value each field offers."""
        return {
            name: found.values[0]
            for name, found in self.fields.items()
            if found.values and found.kind not in ("checkbox", "button")
        }


class FormParser(HTMLParser):
    """Every <form> on a page with its named inputs, textareas, selects and buttons."""

    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "form":
            action = named.get("action") or urlsplit(self.page_url).path
            method = (named.get("method") or "get").upper()
            self._form = Form(action, method, htmx="hx-post" in named)
            self.forms.append(self._form)
            return
        form, name = self._form, named.get("name")
        if form is not None and tag == "option" and self._select:
            form.add(self._select, "select", named.get("value", ""))
        if form is None or not name:
            return
        if tag == "input":
            kind = (named.get("type") or "text").lower()
            if kind in ("submit", "image", "reset"):
                kind = "button"
            form.add(name, kind, named.get("value") or ("on" if kind == "checkbox" else ""))
        elif tag == "button":
            form.add(name, "button", named.get("value") or "")
        elif tag == "textarea":
            self._textarea, self._text = name, []
        elif tag == "select":
            self._select = name
            form.add(name, "select", None, multiple="multiple" in named)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            # A browser drops the line break that follows <textarea>.
            typed = "".join(self._text).removeprefix("\r\n").removeprefix("\n")
            self._form.add(self._textarea, "textarea", typed)
            self._textarea = None


def forms_on(page_url: str, html: str) -> list[Form]:
    parser = FormParser(page_url)
    parser.feed(html)
    parser.close()
    return parser.forms


#: Tags no stored text may ever become.
ACTIVE_TAGS = {"script", "iframe", "object", "embed", "base", "frame", "frameset", "applet"}
#: Our own scripts: served from our origin, named by their src.
OWN_SCRIPT = "/static/"


class ActiveMarkupFinder(HTMLParser):
    """The markup a browser would run: a script that is not ours, an event handler, a
    javascript: link. Escaped text (`&lt;script&gt;`) is text to the parser, as to a browser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and (named.get("src") or "").startswith(OWN_SCRIPT):
            pass
        elif tag in ACTIVE_TAGS:
            self.found.append(f"<{tag} {attrs}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value:
                if (
                    "".join(value.split())
                    .lower()
                    .startswith(("javascript:", "vbscript:", "data:text"))
                ):
                    self.found.append(f"<{tag} {name}={value!r}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)


def active_markup(html: str) -> list[str]:
    finder = ActiveMarkupFinder()
    finder.feed(html)
    finder.close()
    return finder.found
