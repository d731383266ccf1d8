"""Reading a JSON body: every field checked, every problem named, unknown fields refused."""

from datetime import date
from typing import Any

from flask import request

from pledges.web.api.problems import Problem, invalid


def json_body() -> dict[str, Any]:
    if not request.is_json:
        raise Problem(415, "Send JSON", "The body must be application/json.")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Problem(400, "Malformed JSON", "The body must be a JSON object.")
    return body


#: What the OpenAPI document's patterns (ECMA-262 regular expressions) call space. Python's own
#: `strip()` also takes U+0085 and U+001C-U+001F, so a title the document allows was refused.
SPACE = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(code) for code in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Fields:
    """Collects the fields of a body and what is wrong with them, then raises once."""

    def __init__(self, body: dict[str, Any], allowed: tuple[str, ...]) -> None:
        self.body = body
        self.errors: dict[str, str] = {
            name: "Unknown field." for name in body if name not in allowed
        }

    def has(self, name: str) -> bool:
        return name in self.body

    def text(self, name: str, *, max_length: int, required: bool = False,
             nullable: bool = False) -> str | None:  # fmt: skip
        value = self.body.get(name)
        if value is None:
            if required or (name in self.body and not nullable):
                self.errors[name] = "Required." if required else "Must be a string."
            return None
        if not isinstance(value, str):
            self.errors[name] = "Must be a string."
            return None
        # No database stores a NUL in text; it is shown as what it is, a character that was lost.
        value = value.replace("\x00", "\ufffd").strip(SPACE)
        if not _is_unicode(value):
            self.errors[name] = "Must be valid Unicode text (a lone surrogate is not)."
        elif required and not value:
            self.errors[name] = "Must not be empty."
        elif len(value) > max_length:
            self.errors[name] = f"At most {max_length} characters."
        return value or (None if nullable else "")

    def amount(self, name: str, *, maximum: int, required: bool = False,
               nullable: bool = False) -> int | None:  # fmt: skip
        value = self.body.get(name)
        if value is None:
            if required or (name in self.body and not nullable):
                self.errors[name] = "Required." if required else "Must be an integer."
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON has one kind of number: 1800.0 is 1800
        if isinstance(value, bool) or not isinstance(value, int):
            self.errors[name] = "Must be an integer number of minor units (cents)."
        elif not 0 < value <= maximum:
            self.errors[name] = f"Must be between 1 and {maximum}."
        else:
            return value
        return None

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.body.get(name)
        if name in self.body and value not in choices:
            self.errors[name] = f"Must be one of {', '.join(choices)}."
            return None
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.body.get(name, default)
        if not isinstance(value, bool):
            self.errors[name] = "Must be true or false."
            return default
        return value

    def day(self, name: str, *, required: bool = False) -> date | None:
        value = self.body.get(name)
        if value is None:
            if required or name in self.body:
                self.errors[name] = "Required." if required else "Must be a date."
            return None
        try:
            day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
        except ValueError:
            day = None
        if day is None or not 2000 <= day.year <= 2099:
            self.errors[name] = "Must be a date like 2026-11-25, in this century."
        return day

    def check(self) -> None:
        if self.errors:
            raise invalid(self.errors)
