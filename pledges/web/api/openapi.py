"""The API's contract, OpenAPI 3.1. Kept true by tests: schemathesis calls every operation
with what this document allows and with what it forbids, and checks every answer against it."""

from flask import Response, current_app, jsonify

from pledges.forms.organizer import MAX_MINOR
from pledges.models import SCOPES

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_COUNT = {
    "description": "A count, or the words `fewer than 3` when a number could single out a person.",
    "oneOf": [{"type": "integer", "minimum": 3}, {"type": "string", "const": "fewer than 3"}],
}
_MINOR = {"type": "integer", "description": "Minor units (cents) of `currency`."}
#: Something besides spaces.
_TEXT = {"type": "string", "pattern": r"\S"}


def _text(max_length: int, **extra: object) -> dict:
    return {**_TEXT, "maxLength": max_length, **extra}


def _problems(*codes: int) -> dict:
    return {str(code): _PROBLEM for code in codes}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(ref: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}}


_SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Send the same key to repeat a request safely: it is carried out once.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}


def _secured(scope: str) -> list[dict]:
    return [{"token": [scope]}]


def _export(kind: str) -> dict:
    return {
        "get": {
            "operationId": f"export_{kind}",
            "summary": f"All {kind}, for the books (amounts in major units, times in UTC)",
            "security": _secured("exports:read"),
            "responses": {
                "200": {
                    "description": f"The {kind}, as CSV or as a JSON array by `Accept`.",
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        "application/json": {"schema": {"type": "array", "items": {
                            "type": "object"}}},
                    },
                },
                **_problems(401, 403, 406, 429),
            },
        }
    }  # fmt: skip


def spec() -> dict:
    case_fields = {
        "title": _text(200),
        "summary": _text(500),
        "story": {"type": "string", "maxLength": 20_000},
        "goal": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_MINOR},
        "pseudonym": {"type": ["string", "null"], "maxLength": 120},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"{current_app.config['FUND_NAME']} — Pledges API",
            "version": "1",
            "description": "Public figures of the fund for anyone; cases, outcome updates, "
            "payments and exports for organizers' scripts with a token. Amounts are integers "
            "in minor units, except in the exports, which give major units like their CSV; "
            "times are UTC. Errors are problem details (RFC 9457).",
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer",
                          "description": "An API token an admin made; scopes: "
                          + ", ".join(SCOPES)}  # fmt: skip
            },
            "responses": {
                "Problem": {
                    "description": "What went wrong.",
                    "content": {"application/problem+json": {"schema": {
                        "$ref": "#/components/schemas/Problem"}}},
                }  # fmt: skip
            },
            "schemas": {
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status"],
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                        "errors": {"type": "array", "items": {
                            "type": "object", "required": ["field", "message"],
                            "properties": {"field": {"type": "string"},
                                           "message": {"type": "string"}}}},
                    },
                },  # fmt: skip
                "Fund": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "currency", "monthly_pledged", "active_supporters",
                                 "paid_out_this_year", "paid_out_total", "open_cases"],
                    "properties": {
                        "name": {"type": "string"},
                        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                        "monthly_pledged": {**_MINOR, "minimum": 0},
                        "active_supporters": _COUNT,
                        "paid_out_this_year": _MINOR,
                        "paid_out_total": _MINOR,
                        "open_cases": {"type": "integer", "minimum": 0},
                    },
                },  # fmt: skip
                "Update": {
                    "type": "object",
                    "required": ["id", "title", "published_at", "body_markdown", "body_html"],
                    "properties": {
                        "id": {"type": "integer"},
                        "title": {"type": "string"},
                        "published_at": {"type": "string", "format": "date-time"},
                        "body_markdown": {"type": "string"},
                        "body_html": {"type": "string"},
                        "emailed": {"type": "boolean"},
                    },
                },
                "Case": {
                    "type": "object",
                    "required": ["slug", "title", "summary", "status", "currency", "goal",
                                 "paid_out", "supporting_pledges", "url", "updates"],
                    "properties": {
                        "slug": {"type": "string"},
                        "title": {"type": "string"},
                        "summary": {"type": "string"},
                        "status": {"enum": ["draft", "open", "funded", "closed"]},
                        "pseudonym": {"type": ["string", "null"]},
                        "currency": {"type": "string"},
                        "goal": {"type": ["integer", "null"]},
                        "paid_out": _MINOR,
                        "supporting_pledges": _COUNT,
                        "url": {"type": "string", "format": "uri"},
                        "updates": {"type": "array",
                                    "items": {"$ref": "#/components/schemas/Update"}},
                        "story_markdown": {"type": "string"},
                    },
                },  # fmt: skip
                "NewCase": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title", "summary"],
                    "properties": case_fields,
                },
                "CaseChange": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {**case_fields, "status": {"enum": ["open", "funded", "closed"]}},
                },
                "NewUpdate": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["title", "body"],
                    "properties": {
                        "title": _text(200),
                        "body": _text(20_000),
                        "notify": {"type": "boolean", "description": "Email the case's "
                                   "supporters (once; only for a published case)."},
                    },
                },  # fmt: skip
                "NewDisbursement": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["case", "amount", "paid_on"],
                    "properties": {
                        "case": {**_text(120), "description": "The published case's slug."},
                        "amount": {**_MINOR, "minimum": 1, "maximum": MAX_MINOR},
                        "paid_on": {"type": "string", "format": "date",
                                    "pattern": "^20[0-9]{2}-",
                                    "description": "Not in the future (409 if it is)."},
                        "note": {"type": "string", "maxLength": 1000},
                    },
                },  # fmt: skip
                "Disbursement": {
                    "type": "object",
                    "required": ["id", "case", "amount", "currency", "paid_on", "note",
                                 "from_supporters", "from_other_income"],
                    "properties": {
                        "id": {"type": "integer"},
                        "case": {"type": "string"},
                        "amount": _MINOR,
                        "currency": {"type": "string"},
                        "paid_on": {"type": "string", "format": "date"},
                        "note": {"type": "string"},
                        "from_supporters": _MINOR,
                        "from_other_income": _MINOR,
                        "recalculated_later_payments": {"type": "integer"},
                    },
                },  # fmt: skip
            },
        },
        "paths": {
            "/fund": {"get": {
                "operationId": "fund",
                "summary": "The fund's figures",
                "security": [],
                "responses": {"200": _json({"$ref": "#/components/schemas/Fund"}, "The fund."),
                              **_problems(429)},
            }},
            "/cases": {
                "get": {
                    "operationId": "cases",
                    "summary": "Published cases",
                    "security": [],
                    "responses": {
                        "200": _json({"type": "object", "required": ["cases"], "properties": {
                            "cases": {"type": "array",
                                      "items": {"$ref": "#/components/schemas/Case"}}}},
                            "Every published case, oldest first."),
                        **_problems(429),
                    },
                },
                "post": {
                    "operationId": "create_case",
                    "summary": "Write a new case (a draft until published)",
                    "security": _secured("cases:write"),
                    "parameters": [_IDEMPOTENCY],
                    "requestBody": _body("#/components/schemas/NewCase"),
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/Case"}, "The new draft."),
                        **_problems(400, 401, 403, 409, 415, 422, 429),
                    },
                },
            },
            "/cases/{slug}": {
                "parameters": [_SLUG],
                "get": {
                    "operationId": "case",
                    "summary": "One published case",
                    "security": [],
                    "responses": {"200": _json({"$ref": "#/components/schemas/Case"}, "The case."),
                                  **_problems(404, 429)},
                },
                "patch": {
                    "operationId": "edit_case",
                    "summary": "Change a case's text, or publish, mark funded, close or reopen it",
                    "security": _secured("cases:write"),
                    "requestBody": _body("#/components/schemas/CaseChange"),
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Case"}, "The case now."),
                        **_problems(400, 401, 403, 404, 409, 415, 422, 429),
                    },
                },
            },
            "/cases/{slug}/updates": {"post": {
                "operationId": "post_update",
                "summary": "Post what happened on a case, and maybe email its supporters",
                "security": _secured("cases:write"),
                "parameters": [_SLUG, _IDEMPOTENCY],
                "requestBody": _body("#/components/schemas/NewUpdate"),
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Update"}, "The update."),
                    **_problems(400, 401, 403, 404, 409, 415, 422, 429),
                },
            }},
            "/disbursements": {"post": {
                "operationId": "record_disbursement",
                "summary": "Record money paid out to a case",
                "security": _secured("disbursements:write"),
                "parameters": [_IDEMPOTENCY],
                "requestBody": _body("#/components/schemas/NewDisbursement"),
                "responses": {
                    "201": _json({"$ref": "#/components/schemas/Disbursement"},
                                 "The payment, and how much supporters' money covered."),
                    **_problems(400, 401, 403, 404, 409, 415, 422, 429),
                },
            }},
            **{f"/exports/{kind}": _export(kind)
               for kind in ("contributions", "disbursements", "allocations")},
        },
    }  # fmt: skip


def document() -> Response:
    return jsonify(spec())
