"""One template, two answers: the fragment for htmx, the whole page otherwise; and a page the
same for every visitor not signed in, made once."""

import secrets

from flask import (
    Response,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    session,
    url_for,
)
from flask import request as flask_request
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from htmx_flask import request

from pledges.services import public_cache

#: Stands in a page kept for everyone where each visitor's own CSRF token goes (never a token).
_TOKEN_PLACEHOLDER = f"csrf-token-{secrets.token_hex(16)}"


def render_partial(partial: str, *, page: str, status: int = 200, **context: object) -> Response:
    """Render `partial` alone for an htmx request, or `page` (which includes it) otherwise."""
    template = partial if request.htmx and not request.htmx.boosted else page
    response = make_response(render_template(template, **context), status)
    response.headers["Vary"] = "HX-Request"
    return response


def redirect_to(location: str) -> Response:
    """Leave the page: htmx follows HX-Redirect, a plain form post follows the 303."""
    # A boosted request follows a 303 in the background, which cannot reach another site (the
    # payment provider): htmx is told to leave the page instead.
    offsite = location.startswith(("http://", "https://"))
    if request.htmx and (not request.htmx.boosted or offsite):
        response = make_response("", 200)
        response.headers["HX-Redirect"] = location
    else:
        response = redirect(location, code=303)
    response.headers["Vary"] = "HX-Request"
    return response


def keep_the_address(response: Response) -> Response:
    """A boosted form answered in place (its errors, 422) leaves the address as it was: htmx
    would put the form's action in the history, which a reload then asks for with GET."""
    posted = flask_request.method != "GET" and request.htmx and request.htmx.boosted
    if posted and not 300 <= response.status_code < 400:
        response.headers.setdefault("HX-Push-Url", "false")
    return response


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for outside the app (email, payment provider), built from BASE_URL and never from
    the Host header, which a client chooses."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def no_store(response: Response) -> Response:
    """For pages that show a supporter's own data: no cache, shared or private, keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def page_for_anyone(key: tuple, template: str, **context: object) -> str:
    """`template` rendered once for every visitor who is not signed in (as a supporter or an
    organizer), has no message waiting and asked for the plain address, kept as long as the
    public figures (PUBLIC_CACHE_SECONDS), with each visitor's own CSRF token put in. Anyone
    else gets it rendered for them."""
    # An organizer's session ("organizer", organizer.access.SESSION_KEY) changes the header.
    personal = current_user.is_authenticated or "organizer" in session
    if personal or flask_request.query_string or session.get("_flashes"):
        return render_template(template, **context)
    page = public_cache.cached(("page for anyone", *key), lambda: _rendered(template, context))
    return page.replace(_TOKEN_PLACEHOLDER, generate_csrf())


def _rendered(template: str, context: dict) -> str:
    """Rendered with the placeholder as the token: Flask-WTF hands out what `g` holds."""
    field = current_app.config["WTF_CSRF_FIELD_NAME"]
    setattr(g, field, _TOKEN_PLACEHOLDER)
    try:
        return render_template(template, **context)
    finally:
        g.pop(field, None)
