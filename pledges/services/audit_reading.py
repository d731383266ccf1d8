"""The audit log read back for people: what an entry names ("case:3") looked up, and its detail,
which audit.record's callers write as short English text with amounts in minor units, taken
apart into amounts, days and the things it names, so that the page can say them in the reader's
language. What is stored stays as it was written; an entry whose detail this module does not
know is shown as written."""

import re
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import ApiToken, AuditEntry, Case, CaseUpdate, Disbursement, Organizer

#: What a subject's kind (the table's name, as audit._name writes it) is looked up in.
MODELS: dict[str, type] = {
    "case": Case,
    "disbursement": Disbursement,
    "case_update": CaseUpdate,
    "organizer": Organizer,
    "api_token": ApiToken,
}
_REF = re.compile(r"^(" + "|".join(MODELS) + r"):(\d+)$")
_PAYMENT = re.compile(
    r"^(?P<amount>-?\d+) (?P<currency>[A-Z]{3}) to case:(?P<case>\d+) on (?P<day>\d{4}-\d\d-\d\d)"
    r"(?:; recalculated (?P<recalculated>.+))?$"
)
_RECALCULATED = re.compile(r"^disbursement:(\d+) other income (-?\d+) -> (-?\d+)$")
_REVERSAL = re.compile(r"^by disbursement:(\d+)$")
_STATUS = re.compile(r"^(\w+) -> (\w+)$")
_ON_CASE = re.compile(r"^on case:(\d+)$")
_QUEUED = re.compile(r"^(\d+) emails queued$")
_ROLE = re.compile(r"^as (\w+)$")
_SCOPES = re.compile(r"^scopes (.*)$")
_EXPORT_WAYS = ("with emails", "through the API")


@dataclass(frozen=True)
class Ref:
    """A thing an entry names: `thing` is the row, or None when it cannot be found."""

    kind: str
    id: int
    thing: object | None = None


@dataclass
class Reading:
    """One entry as the page shows it. `subject` is a Ref, or the stored text when it names no
    row (an export's kind). `detail` has a `kind` the template knows, and its parts; kind
    "text" is the stored detail as written."""

    entry: AuditEntry
    subject: Ref | str
    detail: dict = field(default_factory=dict)


def read(entries: list[AuditEntry]) -> list[Reading]:
    """Every entry of a page, with the rows they name looked up in one query per kind."""
    readings = [Reading(e, _ref(e.subject) or e.subject, _detail(e)) for e in entries]
    wanted: dict[str, set[int]] = {}
    for reading in readings:
        for ref in _refs(reading):
            wanted.setdefault(ref.kind, set()).add(ref.id)
    found = {
        (kind, row.id): row
        for kind, ids in wanted.items()
        for row in db.session.scalars(select(MODELS[kind]).where(MODELS[kind].id.in_(ids)))
    }
    for reading in readings:
        reading.subject = _found(reading.subject, found)
        reading.detail = {key: _found(value, found) for key, value in reading.detail.items()}
        if "recalculated" in reading.detail:
            reading.detail["recalculated"] = [
                (_found(ref, found), before, after)
                for ref, before, after in reading.detail["recalculated"]
            ]
        original = getattr(reading.subject, "thing", None)
        if reading.detail["kind"] == "reversal" and isinstance(original, Disbursement):
            reading.detail["original"] = original
            reading.detail["case"] = Ref("case", original.case_id, original.case)
    return readings


def _ref(text: str) -> Ref | None:
    matched = _REF.match(text)
    return Ref(matched.group(1), int(matched.group(2))) if matched else None


def _refs(reading: Reading) -> list[Ref]:
    refs = [v for v in (reading.subject, *reading.detail.values()) if isinstance(v, Ref)]
    refs += [ref for ref, _, _ in reading.detail.get("recalculated", [])]
    return refs


def _found(value: object, found: dict) -> object:
    if isinstance(value, Ref):
        return Ref(value.kind, value.id, found.get((value.kind, value.id)))
    return value


def _detail(entry: AuditEntry) -> dict:
    """The detail taken apart for the entry's action, or kept as text when it does not read as
    that action's callers write it."""
    text = entry.detail
    if not text:
        return {"kind": "none"}
    if entry.action == "disbursement.record" and (matched := _PAYMENT.match(text)):
        recalculated = []
        for part in (matched.group("recalculated") or "").split(", "):
            if not part:
                continue
            if not (change := _RECALCULATED.match(part)):
                return {"kind": "text", "text": text}
            recalculated.append((Ref("disbursement", int(change.group(1))),
                                 int(change.group(2)), int(change.group(3))))  # fmt: skip
        return {
            "kind": "payment",
            "amount": int(matched.group("amount")),
            "currency": matched.group("currency"),
            "case": Ref("case", int(matched.group("case"))),
            "day": date.fromisoformat(matched.group("day")),
            "recalculated": recalculated,
        }
    if entry.action == "disbursement.reverse" and (matched := _REVERSAL.match(text)):
        return {"kind": "reversal", "correction": Ref("disbursement", int(matched.group(1)))}
    if entry.action == "case.status" and (matched := _STATUS.match(text)):
        return {"kind": "status", "before": matched.group(1), "after": matched.group(2)}
    if entry.action == "update.post" and (matched := _ON_CASE.match(text)):
        return {"kind": "on_case", "case": Ref("case", int(matched.group(1)))}
    if entry.action == "update.notify" and (matched := _QUEUED.match(text)):
        return {"kind": "queued", "count": int(matched.group(1))}
    if entry.action == "organizer.invite" and (matched := _ROLE.match(text)):
        return {"kind": "role", "role": matched.group(1)}
    if entry.action == "api_token.create" and (matched := _SCOPES.match(text)):
        return {"kind": "scopes", "scopes": matched.group(1)}
    if entry.action == "export" and text in _EXPORT_WAYS:
        return {"kind": "export", "how": text}
    return {"kind": "text", "text": text}
