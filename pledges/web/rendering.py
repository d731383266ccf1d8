"""One template, two answers: the fragment for htmx, the whole page otherwise."""

from flask import Response, current_app, make_response, redirect, render_template, url_for
from htmx_flask import request


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


def absolute_url(endpoint: str, **values: object) -> str:
    """A link for outside the app (email, payment provider), built from BASE_URL and never from
    the Host header, which a client chooses."""
    return current_app.config["BASE_URL"] + url_for(endpoint, **values)


def no_store(response: Response) -> Response:
    """For pages that show a supporter's own data: no cache, shared or private, keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response
