"""Public read API: aggregates only, cached for a minute by anyone in between."""

from flask import Blueprint, Response, jsonify, request

from pledges.services import fund, public_figures
from pledges.web.api import shapes
from pledges.web.api.problems import Problem

MAX_AGE = 60


def _public(payload: object) -> Response:
    answer = jsonify(payload)
    answer.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    answer.add_etag()
    return answer.make_conditional(request)


def fund_view() -> Response:
    return _public(public_figures.fund_figures())


def cases_view() -> Response:
    published = public_figures.published_cases()
    paid = public_figures.paid_out([case.id for case in published])
    return _public({"cases": [shapes.case(case, paid.get(case.id, 0)) for case in published]})


def case_view(slug: str) -> Response:
    case = fund.public_case(slug) if slug.isprintable() else None  # no NUL reaches the database
    if case is None:
        raise Problem(404, "No such case", f"No published case is called {slug!r}.")
    return _public(shapes.case(case))


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/fund", "fund", fund_view)
    bp.add_url_rule("/cases", "cases", cases_view)
    bp.add_url_rule("/cases/<slug>", "case", case_view)
