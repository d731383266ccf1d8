"""The flyer: one printable page about the fund, to pin on a notice board or hand out.

Aggregates and the open cases only, never a person. A signed-in supporter may add their own
short note; it is posted (so it stays out of URLs, history and access logs), printed once and
never stored. A `note` in the address is ignored, for everyone: a link cannot put words on the
fund's flyer.
"""

from flask import Blueprint, Response, make_response, render_template, request
from flask_login import login_required

from pledges.forms.flyer import NoteForm
from pledges.qr import qr_svg
from pledges.services import fund
from pledges.web.rendering import absolute_url, no_store

bp = Blueprint("flyer", __name__)

SIZES = ("a5", "a4")
#: What fits on one A5 page beside the appeal and the code.
MAX_CASES = 4


@bp.get("/flyer")
def flyer() -> Response:
    return _flyer(NoteForm(formdata=None))


@bp.post("/flyer")
@login_required
def with_note() -> Response:
    form = NoteForm()
    if not form.validate():
        # The refused note comes back in its field to be shortened: kept by no cache either.
        return no_store(_flyer(form, status=422))
    return no_store(_flyer(NoteForm(formdata=None), note=form.note.data or None))


def _flyer(form: NoteForm, *, note: str | None = None, status: int = 200) -> Response:
    size = request.args.get("size")
    summary = fund.summary(shown=MAX_CASES)
    pledge_url = absolute_url("pledge.new")
    return make_response(
        render_template(
            "flyer/flyer.html",
            summary=summary,
            cases=summary.open_cases,
            more_cases=max(summary.open_case_count - MAX_CASES, 0),
            size=size if size in SIZES else SIZES[0],
            pledge_url=pledge_url,
            qr_svg=qr_svg(pledge_url, scale=4, title=pledge_url, sized=False),
            note=note,
            form=form,
        ),
        status,
    )
