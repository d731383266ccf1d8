"""The language switcher: a plain form on every page, so it works without JavaScript."""

from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, current_app, redirect, request, session
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from pledges.extensions import db
from pledges.i18n import LANGUAGES, SESSION_KEY

bp = Blueprint("language", __name__)


@bp.post("/language")
def choose() -> Response:
    chosen = request.form.get("locale", "")
    if chosen not in LANGUAGES:
        abort(400)
    session[SESSION_KEY] = chosen
    if getattr(current_user, "is_authenticated", False) and current_user.locale != chosen:
        # Stored with the supporter, so that their emails come in it too.
        current_user.locale = chosen
        db.session.commit()
    return redirect(_same_site_path(request.form.get("next", "")), code=303)


def _same_site_path(target: str) -> str:
    """Back to the page the switcher was on; never to another site (`//evil`, `/\\evil`), nor
    to an address that only takes a form (a page answered to one, without script)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target[1:2] in {"/", "\\"}:
        return "/"
    try:
        current_app.url_map.bind("").match(parts.path, method="GET")
    except RequestRedirect:
        pass  # a trailing slash added: the page is there
    except HTTPException:
        return "/"
    return target
