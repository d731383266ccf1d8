"""Admins' pages for the organizer API's tokens: made here and shown once, listed without their
secret, revoked here. The service writes both actions to the audit log."""

from datetime import datetime, timedelta

from flask import Response, flash, render_template, url_for
from flask_babel import gettext as _

from pledges.extensions import db
from pledges.forms.organizer import ApiTokenForm
from pledges.models import ApiToken
from pledges.models.types import utcnow
from pledges.services import api_tokens
from pledges.web.organizer import access, bp
from pledges.web.rendering import redirect_to, render_partial


def token_status(token: ApiToken, now: datetime) -> str:
    """Why a token works or not, as the list shows it. A token outlives neither its expiry nor
    its admin: one made by someone removed, or no longer an admin, is "orphaned"."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at <= now:
        return "expired"
    return "live" if api_tokens.is_live(token, now) else "orphaned"


@bp.get("/api-tokens")
@access.admin_only
def api_token_list() -> Response:
    return _list_page(ApiTokenForm(formdata=None))


def _list_page(form: ApiTokenForm, status: int = 200) -> Response:
    now = utcnow()
    tokens = api_tokens.listed()
    return render_partial(
        "organizer/_api_token_form.html",
        page="organizer/api_tokens.html",
        status=status,
        form=form,
        tokens=tokens,
        statuses={token.id: token_status(token, now) for token in tokens},
    )


@bp.post("/api-tokens")
@access.admin_only
def create_api_token() -> Response:
    """The secret is in this answer and nowhere else: not in a flash (kept in the session
    cookie), not in a redirect's URL; the blueprint marks every answer no-store."""
    form = ApiTokenForm()
    if not form.validate_on_submit():
        return _list_page(form, status=422)
    issued = api_tokens.issue(
        form.name.data,
        form.scopes.data,
        timedelta(days=form.lifetime.data),
        by=access.current(),
    )
    db.session.commit()
    return render_partial(
        "organizer/_api_token_issued.html", page="organizer/api_token_issued.html", issued=issued
    )


@bp.get("/api-tokens/<int:api_token_id>/revoke")
@access.admin_only
def revoke_api_token_form(api_token_id: int) -> str:
    """A page that asks first, so that revoking works without script and never by a stray
    click."""
    token = db.get_or_404(ApiToken, api_token_id)
    return render_template(
        "organizer/api_token_revoke.html",
        token=token,
        token_status=token_status(token, utcnow()),
    )


@bp.post("/api-tokens/<int:api_token_id>/revoke")
@access.admin_only
def revoke_api_token(api_token_id: int) -> Response:
    token = db.get_or_404(ApiToken, api_token_id)
    api_tokens.revoke(token, by=access.current())  # a second click changes nothing
    db.session.commit()
    flash(_("The token “%(name)s” is revoked: the API refuses it from now on.", name=token.name))
    return redirect_to(url_for("organizer.api_token_list"))
