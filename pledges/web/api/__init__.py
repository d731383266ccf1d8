"""The JSON API under /api/v1: public aggregates for anyone, and the organizers' actions for
scripts holding a token. Same services as the pages; errors as problem details."""

from flask import Blueprint, Flask, Response, request

from pledges.extensions import csrf, db, limiter
from pledges.web.api import openapi, organizer_views, public_views
from pledges.web.api.problems import Problem, response

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# A token in a header, never a cookie: nothing for a forged cross-site request to ride on.
csrf.exempt(bp)
limiter.limit("120 per minute")(bp)


@bp.errorhandler(Problem)
def problem(error: Problem) -> Response:
    db.session.rollback()
    headers = {"WWW-Authenticate": 'Bearer realm="pledges"'} if error.status == 401 else None
    return response(error, headers)


@bp.errorhandler(500)
def crashed(error: Exception) -> Response:
    db.session.rollback()
    return response(Problem(500, "Internal Server Error", "Nothing was saved. Try again later."))


@bp.after_request
def no_sniffing(answer: Response) -> Response:
    answer.headers.setdefault("Cache-Control", "no-store")
    return answer


public_views.register(bp)
organizer_views.register(bp)
bp.add_url_rule("/openapi.json", "openapi", openapi.document)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def is_api_request() -> bool:
    return request.path.startswith(bp.url_prefix + "/")
