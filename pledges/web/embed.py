"""The pledge widget: a small page a fund shows in a frame on its own site.

Only aggregates, no script, no cookie and no per-visitor token, so a shared cache may keep it
for a few minutes; only the origins in EMBED_ALLOWED_ORIGINS may frame it.
"""

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
)
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from pledges import i18n
from pledges.extensions import login_manager
from pledges.services import fund, public_figures
from pledges.web import security
from pledges.web.rendering import absolute_url

bp = Blueprint("embed", __name__, url_prefix="/embed")

THEMES = ("light", "dark")


class _StrangersSessions(SecureCookieSessionInterface):
    """Flask's cookie sessions, but an answer any cache may share neither sets a cookie nor
    says it varies with one (Flask-Login looks into the session after every request, and
    Flask then adds `Vary: Cookie`)."""

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if g.get("shared_response"):
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = _StrangersSessions()


@bp.before_request
def as_a_stranger() -> None:
    """Whoever looks at the fund's site is nobody to the widget: their session is never read,
    so it is never refreshed and no cookie goes back to them."""
    # Flask-Login loads the visitor for every template (current_user) and for the locale; this
    # is the anonymous visitor it would find without a session.
    login_manager._update_request_context_with_user()
    i18n.as_shared_response()


@bp.get("/pledge")
def pledge() -> Response:
    theme = request.args.get("theme")
    security.allow_framing(current_app.config["EMBED_ALLOWED_ORIGINS"])
    response = make_response(
        render_template(
            "embed/pledge.html",
            summary=(summary := fund.summary(shown=0)),
            # Shown on other people's sites: a count that could point at someone is not given.
            supporters=public_figures.count(summary.supporters),
            goal=current_app.config["FUND_MONTHLY_GOAL"],
            theme=theme if theme in THEMES else "light",
            pledge_url=absolute_url("pledge.new"),
        )
    )
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["Vary"] = "Accept-Language"
    return response
