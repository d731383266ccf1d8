"""Unsubscribing from an email's link: a page with one button, and the one-click POST that mail
programs send by themselves (RFC 8058), both without signing in."""

from flask import Blueprint, Response, render_template

from pledges.extensions import csrf, db, limiter
from pledges.services import unsubscribe

bp = Blueprint("unsubscribe", __name__)


@bp.get("/unsubscribe/<token>")
def confirm(token: str) -> Response:
    found = unsubscribe.read(token)
    page = render_template(
        "unsubscribe.html", token=token, kind=found[1] if found else None, done=False
    )
    return Response(page, status=200 if found else 404)


# The signed link is the authority here: a mail program's one-click POST carries no CSRF token.
@bp.post("/unsubscribe/<token>")
@csrf.exempt
@limiter.limit("60 per hour")
def unsubscribe_now(token: str) -> Response:
    found = unsubscribe.read(token)
    if found is None:
        return Response(render_template("unsubscribe.html", kind=None, done=False), status=404)
    unsubscribe.apply(*found)
    db.session.commit()
    return Response(render_template("unsubscribe.html", kind=found[1], done=True))
