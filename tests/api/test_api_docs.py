"""docs/api.md is run: every `sh` example, in order, with the real curl against the app served
over HTTP, so that what a volunteer copies from it works and answers with the fields it shows."""

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from pledges.extensions import db
from pledges.services import demo_data, exports
from tests.api.conftest import issue_token
from tests.live_server import serving
from tests.smtp_sink import free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#", re.MULTILINE)
#: curl as the examples call it, made strict: `-q` (first, or it is ignored) keeps a ~/.curlrc
#: out; an error status fails the command; the status is printed after the body.
STRICT_CURL = (
    "curl() {{ command {curl} -q --noproxy '*' --fail-with-body -sS "
    "--write-out '\\n%{{http_code}}' \"$@\"; }}\n"
)


@dataclass
class Example:
    command: str
    #: The fenced block right after the command: "json", "text", or "" when there is none.
    answer_kind: str
    answer: str

    @property
    def path(self) -> str:
        found = re.search(r'"\$PLEDGES(/[^"?]*)', self.command)
        assert found, f"an example without a quoted $PLEDGES address:\n{self.command}"
        return found.group(1)

    @property
    def method(self) -> str:
        explicit = re.search(r"(?:-X|--request)\s+(\w+)", self.command)
        if explicit:
            return explicit.group(1)
        sends_body = re.search(r"\s(?:-d|--data[\w-]*|--json)\s", self.command)
        return "POST" if sends_body else "GET"


def examples(text: str) -> list[Example]:
    """The `sh` blocks in order, each with the json or text block that follows it in the same
    section (its expected answer)."""
    blocks = list(FENCE.finditer(text))
    found = []
    for number, block in enumerate(blocks):
        if block.group(1) != "sh":
            continue
        after = blocks[number + 1] if number + 1 < len(blocks) else None
        adjacent = (
            after is not None
            and after.group(1) in ("json", "text")
            and not HEADING.search(text, block.end(), after.start())
        )
        found.append(
            Example(
                command=block.group(2).strip(),
                answer_kind=after.group(1) if adjacent else "",
                answer=after.group(2) if adjacent else "",
            )
        )
    return found


def missing(expected: object, actual: object, where: str = "$") -> list[str]:
    """What the doc shows and the answer lacks: object keys, and for an array, its first item's
    keys. Values differ from fund to fund and are not compared."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where} is not an object"]
        lacking = []
        for key, value in expected.items():
            if key in actual:
                lacking += missing(value, actual[key], f"{where}.{key}")
            else:
                lacking.append(f"{where}.{key}")
        return lacking
    if isinstance(expected, list) and expected:
        if not isinstance(actual, list) or not actual:
            return [f"{where} is not a non-empty array"]
        return missing(expected[0], actual[0], f"{where}[0]")
    return []


DOC_EXAMPLES = examples(DOC.read_text(encoding="utf-8"))


@pytest.fixture
def curl() -> str:
    found = shutil.which("curl")
    if found is None:
        pytest.fail("curl is needed to run the examples of docs/api.md: apt-get install curl")
    return found


@pytest.fixture
def port():
    return free_port()


@pytest.fixture
def config(config, port):
    return {**config, "BASE_URL": f"http://127.0.0.1:{port}"}


@pytest.fixture
def live_server(app, port):
    """The app over real HTTP on loopback, as curl would reach a fund's site."""
    with serving(app, port) as base_url:
        yield base_url


def test_the_doc_has_a_shown_answer_for_each_curl_example():
    assert len(DOC_EXAMPLES) >= 10
    for example in DOC_EXAMPLES:
        assert example.command.startswith("curl "), example.command
        assert example.command.count("curl ") == 1, f"one command per block:\n{example.command}"
        assert example.answer_kind, f"no answer shown after:\n{example.command}"


def test_every_operation_of_the_api_has_an_example(app):
    operations = {
        rule.endpoint for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")
    }
    addresses = app.url_map.bind("localhost")
    shown = {addresses.match(e.path, method=e.method)[0] for e in DOC_EXAMPLES}
    assert operations - shown == set()
    exported = [e for e in DOC_EXAMPLES if e.path.startswith("/api/v1/exports/")]
    assert {e.path.rsplit("/", 1)[1] for e in exported} == set(exports.KINDS)
    for media_type in ("text/csv", "application/json"):
        assert any(f"Accept: {media_type}" in e.command for e in exported), media_type


def test_every_example_runs_with_curl_and_answers_as_shown(app, live_server, curl):
    with app.app_context():
        demo_data.load()
        db.session.commit()
    token = issue_token(app)
    environment = {"PATH": "/usr/bin:/bin", "PLEDGES": live_server, "TOKEN": token}

    for example in DOC_EXAMPLES:
        ran = subprocess.run(
            ["bash", "-c", STRICT_CURL.format(curl=curl) + example.command],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )
        body, _, status = ran.stdout.rpartition("\n")
        said = f"{example.command}\n-> exit {ran.returncode}, {ran.stderr}\n{ran.stdout[:2000]}"
        assert ran.returncode == 0, said
        assert status.startswith("2"), said
        if example.answer_kind == "json":
            lacking = missing(json.loads(example.answer), json.loads(body))
            assert lacking == [], f"the doc shows fields the answer lacks: {lacking}\n{said}"
        else:
            shown = next(
                line for line in example.answer.splitlines() if not line.startswith("HTTP/")
            )
            assert shown.lower() in body.lower(), f"the answer lacks {shown!r}\n{said}"


def test_the_error_example_is_what_the_api_answers(client, auth):
    """The 422 in the section on errors, for the body the doc says it comes from."""
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Errors") :]
    section = section[: HEADING.search(section, 1).start()]
    sent = re.search(r"Creating a case with `(\{.*?\})`", section, re.DOTALL)
    shown = FENCE.search(section)
    assert sent and shown and shown.group(1) == "json"

    answer = client.post("/api/v1/cases", json=json.loads(sent.group(1)), headers=auth)
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    assert answer.json == json.loads(shown.group(2))
