"""The organizers' pages under /organizer. Every view here needs the emailed link and the
second factor, except the few that lead there; that is decided once, for the whole blueprint."""

from flask import Blueprint, Response

from pledges.web.rendering import no_store

bp = Blueprint("organizer", __name__, url_prefix="/organizer")


@bp.after_request
def private(response: Response) -> Response:
    return no_store(response)


from pledges.web.organizer import (  # noqa: E402 - views attach themselves to bp
    access,
    api_tokens,
    cases,
    dashboard,
    disbursements,
    sign_in,
    team,
)

__all__ = ["access", "api_tokens", "bp", "cases", "dashboard", "disbursements", "sign_in", "team"]
