"""The OpenAPI document is the contract: schemathesis calls every operation with data the
document allows and data it forbids, as a script with a token would, and checks each answer
(status, media type, headers and body) against the document. No server error, ever."""

import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from pledges.extensions import db
from pledges.services import demo_data
from tests.api.conftest import issue_token

#: Every operation in the document; a test below keeps this list equal to it.
OPERATIONS = [
    ("/fund", "GET"), ("/cases", "GET"), ("/cases", "POST"), ("/cases/{slug}", "GET"),
    ("/cases/{slug}", "PATCH"), ("/cases/{slug}/updates", "POST"), ("/disbursements", "POST"),
    ("/exports/contributions", "GET"), ("/exports/disbursements", "GET"),
    ("/exports/allocations", "GET"),
]  # fmt: skip


@pytest.fixture
def api_schema(app):
    with app.app_context():
        demo_data.load()  # cases to find, pay and post to; supporters behind them
        db.session.commit()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


#: Each operation with data that fits the document, and those that take a body also with data
#: that does not (a path's slug and the bare GETs have nothing that could be wrong).
CALLS = [(path, method, GenerationMode.POSITIVE) for path, method in OPERATIONS] + [
    (path, method, GenerationMode.NEGATIVE) for path, method in OPERATIONS
    if method in ("POST", "PATCH")
]  # fmt: skip


@pytest.mark.parametrize(("path", "method", "mode"), CALLS,
                         ids=lambda value: getattr(value, "value", value))  # fmt: skip
def test_every_operation_keeps_to_the_document(app, api_schema, path, method, mode):
    """Positive cases must be answered as documented; negative ones (wrong types, missing or
    extra fields, bad headers) must be refused as documented, with a 4xx problem."""
    authorization = {"Authorization": f"Bearer {issue_token(app)}"}
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=20, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def keeps_to_it(case) -> None:
        headers = dict(authorization)
        if mode == GenerationMode.POSITIVE and case.headers and "Idempotency-Key" in case.headers:
            # A key names one request; the fuzzer's short keys would name many (refused with
            # 422 by design, tested in test_organizer_api).
            headers["Idempotency-Key"] = uuid.uuid4().hex
        case.call_and_validate(headers=headers)

    keeps_to_it()


def test_the_document_lists_what_the_tests_call(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    operations = {(path, method.upper()) for path, item in document["paths"].items()
                  for method in item if method != "parameters"}  # fmt: skip
    assert operations == set(OPERATIONS)
