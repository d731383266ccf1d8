"""Token authentication for the organizer API, and idempotent creation."""

import hashlib
from collections.abc import Callable
from functools import wraps

from flask import Response, g, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pledges.extensions import db
from pledges.models import ApiToken, IdempotentRequest, Organizer
from pledges.services import api_tokens
from pledges.web.api.problems import Problem

BEARER = "Bearer "


def requires(scope: str) -> Callable:
    """The view needs a live token holding `scope`; the token's admin acts, and the audit log
    names the token (see `audit.record`)."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def guarded(*args: object, **kwargs: object) -> Response:
            header = request.headers.get("Authorization", "")
            token = (
                api_tokens.authenticate(header.removeprefix(BEARER).strip())
                if header.startswith(BEARER)
                else None
            )
            if token is None:
                raise Problem(
                    401, "Authentication needed",
                    "Send a live API token: Authorization: Bearer <token>.",
                )  # fmt: skip
            if scope not in token.scope_list:
                raise Problem(403, "Not allowed", f"This token lacks the scope {scope}.")
            g.api_token_id = token.id
            g.api_token = token
            return view(*args, **kwargs)

        return guarded

    return decorate


def acting() -> Organizer:
    return g.api_token.created_by


def idempotent(view: Callable[..., tuple[dict, int, str | None]]) -> Callable[..., Response]:
    """A creating view, answered once per Idempotency-Key: the same request sent again gets
    the first answer; the same key with another request is refused. The answer is kept in the
    transaction that made the record, so both are kept or neither."""

    @wraps(view)
    def once(*args: object, **kwargs: object) -> Response:
        token: ApiToken = g.api_token
        key = request.headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
            raise Problem(400, "Bad Idempotency-Key", "Use 1 to 255 printable characters.")
        if key is not None:
            fingerprint = hashlib.sha256(
                f"{request.method} {request.path}\n".encode() + request.get_data()
            ).hexdigest()
            earlier = db.session.scalar(
                select(IdempotentRequest).where(
                    IdempotentRequest.token_id == token.id, IdempotentRequest.key == key
                )
            )
            if earlier is not None:
                if earlier.fingerprint != fingerprint:
                    raise Problem(
                        422, "Idempotency-Key reused",
                        "This key was used for another request; use a new key.",
                    )  # fmt: skip
                return _answer(earlier.body, earlier.status, earlier.location, replayed=True)
        body, status, location = view(*args, **kwargs)
        if key is not None:
            db.session.add(
                IdempotentRequest(token_id=token.id, key=key, fingerprint=fingerprint,
                                  status=status, body=body, location=location)
            )  # fmt: skip
        try:
            db.session.commit()
        except IntegrityError as error:
            db.session.rollback()
            raise Problem(
                409, "Conflict",
                "A request with this Idempotency-Key is being made; send it again shortly."
                if key is not None else "Another request changed the same thing; send it again.",
            ) from error  # fmt: skip
        return _answer(body, status, location)

    return once


def _answer(body: dict, status: int, location: str | None, *, replayed: bool = False) -> Response:
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    if location:
        response.headers["Location"] = location
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
