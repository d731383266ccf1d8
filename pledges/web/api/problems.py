"""Errors as problem details (RFC 9457): a status, a title, what went wrong, and for bad
input a message per field."""

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

MEDIA_TYPE = "application/problem+json"


class Problem(Exception):
    """Raised by a view to answer with a problem; nothing it wrote is committed."""

    def __init__(
        self, status: int, title: str, detail: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


def invalid(errors: dict[str, str]) -> Problem:
    return Problem(422, "The request has invalid fields", "See `errors` for each field.", errors)


def response(problem: Problem, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, object] = {"type": "about:blank", "title": problem.title,
                               "status": problem.status}  # fmt: skip
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = [{"field": name, "message": message}
                          for name, message in problem.errors.items()]  # fmt: skip
    answer = jsonify(body)
    answer.status_code = problem.status
    answer.mimetype = MEDIA_TYPE
    answer.headers["Cache-Control"] = "no-store"
    answer.headers.update(headers or {})
    return answer


def from_http_error(error: HTTPException) -> Response:
    """Flask's own errors (an unknown address, a wrong method, a rate limit) on API paths."""
    problem = Problem(error.code or 500, error.name, error.description)
    headers = {}
    if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return response(problem, headers)
