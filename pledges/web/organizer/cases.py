"""Cases and their outcome updates: write, preview, publish, post what happened."""

from flask import Response, abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from htmx_flask import request as htmx_request

from pledges.extensions import db
from pledges.forms.organizer import CaseForm, UpdateForm
from pledges.markdown import render_markdown
from pledges.models import Case, CaseStatus, CaseUpdate
from pledges.services import attribution, cases
from pledges.web.organizer import access, bp
from pledges.web.rendering import redirect_to, render_partial


def _text(form: CaseForm) -> cases.CaseText:
    return cases.CaseText(
        title=form.title.data,
        summary=form.summary.data,
        story=form.story.data or "",
        goal=form.goal_value,
        pseudonym=form.pseudonym.data or None,
    )


def _previewing() -> bool:
    return request.form.get("action") == "preview"


@bp.get("/cases")
def case_list() -> str:
    return render_template(
        "organizer/cases.html",
        cases=cases.all_cases(),
        case_transitions=cases.TRANSITIONS,
        earmarked=cases.earmarked_pledges(),
    )


@bp.get("/cases/new")
def new_case() -> Response:
    return _case_form(CaseForm(), case=None)


@bp.post("/cases/new")
def create_case() -> Response:
    form = CaseForm()
    if _previewing() or not form.validate_on_submit():
        return _case_form(form, case=None, status=200 if _previewing() else 422)
    case = cases.create(_text(form), by=access.current())
    db.session.commit()
    flash(_("The case is saved as a draft: only organizers see it until you publish it."))
    return redirect_to(url_for("organizer.case", case_id=case.id))


def _case_form(form: CaseForm, case: Case | None, status: int = 200) -> Response:
    """The form alone for htmx (the preview or the errors swap in place), the page otherwise."""
    preview = render_markdown(form.story.data) if _previewing() else None
    return render_partial(
        "organizer/_case_form.html",
        page="organizer/case_form.html",
        status=status,
        form=form,
        case=case,
        preview=preview,
    )


@bp.get("/cases/<int:case_id>")
def case(case_id: int) -> str:
    found = db.get_or_404(Case, case_id)
    return _case_page(found, UpdateForm(formdata=None))


def _case_page(case: Case, update_form: UpdateForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_update_form.html",
        page="organizer/case.html",
        status=status,
        case=case,
        story=render_markdown(case.story),
        funding=attribution.for_case(case),
        audience=cases.supporter_count(case),
        earmarked_pledges=cases.earmarked_pledges(case).get(case.id, 0),
        transitions=cases.TRANSITIONS[CaseStatus(case.status)],
        update_form=update_form,
        update_preview=render_markdown(update_form.body.data) if _previewing() else None,
    )


@bp.get("/cases/<int:case_id>/edit")
def edit_case(case_id: int) -> Response:
    found = db.get_or_404(Case, case_id)
    form = CaseForm(formdata=None)
    form.fill_from(found)
    return _case_form(form, case=found)


@bp.post("/cases/<int:case_id>/edit")
def save_case(case_id: int) -> Response:
    found = db.get_or_404(Case, case_id)
    form = CaseForm()
    if _previewing() or not form.validate_on_submit():
        return _case_form(form, case=found, status=200 if _previewing() else 422)
    cases.edit(found, _text(form), by=access.current())
    db.session.commit()
    flash(_("The case is saved."))
    return redirect_to(url_for("organizer.case", case_id=found.id))


@bp.post("/cases/<int:case_id>/status")
def move_case(case_id: int) -> Response:
    """Publish, mark funded, close or reopen. htmx swaps the status in place; a plain form post
    goes back to the case."""
    found = db.get_or_404(Case, case_id)
    try:
        cases.move(found, CaseStatus(request.form.get("status", "")), by=access.current())
    except ValueError:
        db.session.rollback()
        if not htmx_request.htmx:
            abort(409)
        return _status(found, _("That change is not possible from here; reload the page."), 409)
    db.session.commit()
    if not htmx_request.htmx:
        return redirect_to(url_for("organizer.case", case_id=found.id))
    return _status(found)


def _status(case: Case, error: str | None = None, status: int = 200) -> Response:
    transitions = cases.TRANSITIONS[CaseStatus(case.status)]
    page = render_template(
        "organizer/_status.html",
        case=case,
        transitions=transitions,
        error=error,
        earmarked_pledges=cases.earmarked_pledges(case).get(case.id, 0),
    )
    return Response(page, status=status)


@bp.post("/cases/<int:case_id>/updates")
def post_update(case_id: int) -> Response:
    found = db.get_or_404(Case, case_id)
    form = UpdateForm()
    if _previewing() or not form.validate_on_submit():
        return _case_page(found, form, status=200 if _previewing() else 422)
    update = cases.post_update(
        found, form.title.data, form.body.data, notify=form.notify.data, by=access.current()
    )
    db.session.commit()
    flash(_("Posted. Supporters were emailed.") if update.notified_at else _("Posted."))
    return redirect_to(url_for("organizer.case", case_id=found.id))


@bp.get("/updates/<int:update_id>/edit")
def edit_update(update_id: int) -> Response:
    update = db.get_or_404(CaseUpdate, update_id)
    form = UpdateForm(formdata=None, obj=update)
    return _update_edit_page(update, form)


def _update_edit_page(update: CaseUpdate, form: UpdateForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_update_edit.html",
        page="organizer/update_edit.html",
        status=status,
        update=update,
        form=form,
        preview=render_markdown(form.body.data) if _previewing() else None,
    )


@bp.post("/updates/<int:update_id>/edit")
def save_update(update_id: int) -> Response:
    update = db.get_or_404(CaseUpdate, update_id)
    form = UpdateForm()
    if _previewing() or not form.validate_on_submit():
        return _update_edit_page(update, form, status=200 if _previewing() else 422)
    cases.edit_update(update, form.title.data, form.body.data, by=access.current())
    if form.notify.data:  # a no-op if they were told already
        cases.notify_supporters(update, by=access.current())
    db.session.commit()
    flash(_("The update is saved."))
    return redirect_to(url_for("organizer.case", case_id=update.case_id))
