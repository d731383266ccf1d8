"""The organizers' API: the same services, checks and audit log as their pages, for scripts
holding a token."""

import json
from collections.abc import Iterator

from flask import Blueprint, Response, jsonify, request, stream_with_context
from sqlalchemy import select

from pledges.extensions import db
from pledges.forms.organizer import MAX_MINOR
from pledges.models import Case, CaseStatus
from pledges.models.types import is_in_the_future
from pledges.services import audit, cases, disbursements, exports
from pledges.web.api import shapes
from pledges.web.api.auth import acting, idempotent, requires
from pledges.web.api.problems import Problem
from pledges.web.api.validation import Fields, json_body
from pledges.web.rendering import absolute_url

CASE_FIELDS = ("title", "summary", "story", "goal", "pseudonym")
#: Where a case can be moved by PATCH; it starts as a draft.
STATUSES = (CaseStatus.OPEN, CaseStatus.FUNDED, CaseStatus.CLOSED)


def _case(slug: str) -> Case:
    found = db.session.scalar(select(Case).where(Case.slug == slug)) if slug.isprintable() else None
    if found is None:
        raise Problem(404, "No such case", f"No case is called {slug!r}.")
    return found


def _case_text(fields: Fields, current: Case | None = None) -> cases.CaseText:
    creating = current is None
    # Needed to create a case; never blank, when changed.
    title = fields.text("title", max_length=200, required=creating or fields.has("title"))
    summary = fields.text("summary", max_length=500, required=creating or fields.has("summary"))
    story = fields.text("story", max_length=20_000)
    goal = fields.amount("goal", maximum=MAX_MINOR, nullable=True)
    pseudonym = fields.text("pseudonym", max_length=120, nullable=True)
    if current is None:
        return cases.CaseText(title or "", summary or "", story or "", goal, pseudonym)
    return cases.CaseText(
        title=title if fields.has("title") else current.title,
        summary=summary if fields.has("summary") else current.summary,
        story=story if fields.has("story") else current.story,
        goal=goal if fields.has("goal") else current.goal,
        pseudonym=pseudonym if fields.has("pseudonym") else current.beneficiary_pseudonym,
    )


@requires("cases:write")
@idempotent
def create_case() -> tuple[dict, int, str]:
    fields = Fields(json_body(), CASE_FIELDS)
    text = _case_text(fields)
    fields.check()
    case = cases.create(text, by=acting())
    db.session.flush()
    return shapes.case(case, 0, for_organizers=True), 201, _location(case)


@requires("cases:write")
def edit_case(slug: str) -> Response:
    case = _case(slug)
    fields = Fields(json_body(), (*CASE_FIELDS, "status"))
    text = _case_text(fields, case)
    status = fields.choice("status", tuple(STATUSES))
    fields.check()
    if any(fields.has(name) for name in CASE_FIELDS):
        cases.edit(case, text, by=acting())
    if status is not None and status != case.status:
        try:
            cases.move(case, CaseStatus(status), by=acting())
        except ValueError as error:
            raise Problem(409, "Not a possible change", str(error)) from error
    db.session.commit()
    answer = jsonify(shapes.case(case, for_organizers=True))
    answer.headers["Content-Location"] = _location(case)
    return answer


@requires("cases:write")
@idempotent
def post_update(slug: str) -> tuple[dict, int, str]:
    case = _case(slug)
    fields = Fields(json_body(), ("title", "body", "notify"))
    title = fields.text("title", max_length=200, required=True)
    body = fields.text("body", max_length=20_000, required=True)
    notify = fields.flag("notify")
    fields.check()
    if notify and case.status == CaseStatus.DRAFT:
        raise Problem(409, "The case is a draft", "Publish it before emailing its supporters.")
    update = cases.post_update(case, title, body, notify=notify, by=acting())
    shape = shapes.update(update)
    shape["emailed"] = update.notified_at is not None
    return shape, 201, _location(case)


@requires("disbursements:write")
@idempotent
def record_disbursement() -> tuple[dict, int, str]:
    fields = Fields(json_body(), ("case", "amount", "paid_on", "note"))
    slug = fields.text("case", max_length=120, required=True)
    amount = fields.amount("amount", maximum=MAX_MINOR, required=True)
    paid_on = fields.day("paid_on", required=True)
    note = fields.text("note", max_length=1000) or ""
    fields.check()
    if is_in_the_future(paid_on):
        # Well formed, but not yet possible: the ledger holds what has been paid.
        raise Problem(409, "Not paid yet", "A payment cannot be dated in the future.")
    case = _case(slug)
    if case.status == CaseStatus.DRAFT:
        raise Problem(409, "The case is a draft", "Publish it before paying money out to it.")
    recorded = disbursements.record(case, amount, paid_on, note, by=acting())
    paid = recorded.disbursement
    shape = {
        "id": paid.id,
        "case": case.slug,
        "amount": paid.amount,
        "currency": paid.currency,
        "paid_on": paid.paid_on.isoformat(),
        "note": paid.note,
        "from_supporters": paid.amount - paid.other_income,
        "from_other_income": paid.other_income,
        "recalculated_later_payments": len(recorded.recalculated),
    }
    return shape, 201, _location(case)


EXPORT_TYPES = ("text/csv", "application/json")


@requires("exports:read")
def export(kind: str) -> Response:
    if kind not in exports.KINDS:
        raise Problem(404, "No such export", f"Exports are {', '.join(exports.KINDS)}.")
    # No Accept header means anything will do: the CSV, as the pages give it.
    chosen = (
        request.accept_mimetypes.best_match(EXPORT_TYPES)
        if request.accept_mimetypes
        else "text/csv"
    )
    if chosen is None:
        raise Problem(406, "Not acceptable", "Ask for text/csv or application/json.")
    audit.record("export", kind, "through the API", by=acting())
    db.session.commit()
    records = exports.rows(kind)
    if chosen == "text/csv":
        body = exports.as_csv(records)
    else:
        body = _json_lines(records)
    answer = Response(stream_with_context(body), mimetype=chosen)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _json_lines(records: Iterator[list[object]]) -> Iterator[str]:
    """A JSON array of objects keyed by the CSV's header, streamed like the CSV."""
    header = next(records)
    yield "["
    for number, record in enumerate(records):
        yield ("," if number else "") + json.dumps(dict(zip(header, record, strict=True)),
                                                    default=str)  # fmt: skip
    yield "]"


def _location(case: Case) -> str:
    return absolute_url("api.case", slug=case.slug)


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/cases", "create_case", create_case, methods=["POST"])
    bp.add_url_rule("/cases/<slug>", "edit_case", edit_case, methods=["PATCH"])
    bp.add_url_rule("/cases/<slug>/updates", "post_update", post_update, methods=["POST"])
    bp.add_url_rule("/disbursements", "record_disbursement", record_disbursement,
                    methods=["POST"])  # fmt: skip
    bp.add_url_rule("/exports/<kind>", "export", export)
