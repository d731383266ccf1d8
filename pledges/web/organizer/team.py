"""Admins' pages: the organizers, their invitations, and the audit log (read-only)."""

from flask import Response, abort, flash, render_template, request, url_for
from flask_babel import gettext as _

from pledges.extensions import db
from pledges.forms.organizer import InviteForm
from pledges.models import Organizer, OrganizerRole
from pledges.services import api_tokens, audit, audit_reading, organizers
from pledges.web.organizer import access, bp
from pledges.web.rendering import redirect_to, render_partial


@bp.get("/team")
@access.admin_only
def team() -> Response:
    return _team_page(InviteForm(formdata=None))


def _team_page(form: InviteForm, status: int = 200) -> Response:
    return render_partial(
        "organizer/_invite_form.html",
        page="organizer/team.html",
        status=status,
        form=form,
        organizers=organizers.active(),
    )


@bp.post("/team")
@access.admin_only
def invite() -> Response:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            organizers.invite(
                form.email.data,
                name=form.name.data,
                role=OrganizerRole(form.role.data),
                by=access.current(),
            )
        except organizers.AlreadyInvited:
            form.email.errors.append(_("This address belongs to an organizer already."))
        else:
            db.session.commit()
            flash(_("The invitation is on its way."))
            return redirect_to(url_for("organizer.team"))
    return _team_page(form, status=422)


@bp.post("/team/<int:organizer_id>/resend")
@access.admin_only
def resend_invitation(organizer_id: int) -> Response:
    invited = db.get_or_404(Organizer, organizer_id)
    if not invited.is_active or invited.totp_confirmed_at is not None:
        abort(409)
    organizers.send_invitation(invited)
    audit.record("organizer.reinvite", invited, by=access.current())
    db.session.commit()
    flash(_("A new invitation is on its way; the one before no longer works."))
    return redirect_to(url_for("organizer.team"))


@bp.post("/team/<int:organizer_id>/reset")
@access.admin_only
def reset_second_factor(organizer_id: int) -> Response:
    person = db.get_or_404(Organizer, organizer_id)
    if not person.is_active or person.id == access.current().id:
        abort(409)
    organizers.reset_second_factor(person, by=access.current())
    db.session.commit()
    flash(_("%(name)s is signed out and gets a new invitation to set up again.", name=person.name))
    return redirect_to(url_for("organizer.team"))


@bp.post("/team/<int:organizer_id>/remove")
@access.admin_only
def remove(organizer_id: int) -> Response:
    removed = db.get_or_404(Organizer, organizer_id)
    try:
        organizers.remove(removed, by=access.current())
    except ValueError:
        abort(409)
    db.session.commit()
    return redirect_to(url_for("organizer.team"))


@bp.get("/audit")
@access.admin_only
def audit_log() -> str:
    before = request.args.get("before", type=int)
    if before is not None:  # past PostgreSQL's integer, every id is before it
        before = max(min(before, 2**31 - 1), -(2**31))
    entries = audit.page(before)
    return render_template(
        "organizer/audit.html",
        readings=audit_reading.read(entries),
        api_tokens=api_tokens.named({e.api_token_id for e in entries if e.api_token_id}),
        older=entries[-1].id if len(entries) == audit.PAGE else None,
    )
