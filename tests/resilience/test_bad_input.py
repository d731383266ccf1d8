"""Hostile input, everywhere a visitor can type or link: every form the pages show, every query
and path parameter, and every input that ends up in an email.

Whatever is sent, the app answers without a 500, refuses what it cannot take with a message
beside the field, never serves stored text as markup a browser would run, and never lets a
line break in a name, an address or a title become a header of an email.

Forms are found on the pages themselves (tests/resilience/forms.py), each as the visitor who
sees it (the authorization matrix's world and sign-ins); a POST route that takes form data and
is neither driven here nor set aside on purpose fails the first test. The JSON API has its own
contract test (tests/api, schemathesis); its pages are left to it.
"""

import operator
import re
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from pledges import create_app
from pledges.extensions import db
from pledges.models import Case, Organizer, PledgeStatus, Supporter
from pledges.models.types import utcnow
from pledges.payments import gateway
from pledges.services import auth_tokens, unsubscribe
from tests.conftest import BASE_CONFIG, PledgesClient
from tests.factories import make_pledge
from tests.organizer.signing_in import sign_in_supporter, use_link
from tests.organizer.test_authorization_matrix import ACCESS, World, _requests, _seed
from tests.resilience.forms import Form, active_markup, forms_on


@pytest.fixture(scope="module")
def shared_app(postgres_schema, smtp, tmp_path_factory):
    """One app for the module, on a database emptied before each test: the pages' templates
    are compiled once, not once per form."""
    folder = tmp_path_factory.mktemp("bad-input")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLEDGES_INSTANCE", str(folder / "instance"))
        made = create_app(
            {
                **BASE_CONFIG,
                "SQLALCHEMY_DATABASE_URI": postgres_schema,
                "MAIL_PORT": smtp.port,
                "DEV_MAILDIR": str(folder / "mail"),
                # Hundreds of posts to the sign-in forms: the rate limits would answer 429 to
                # most and hide what the views themselves do.
                "RATELIMIT_ENABLED": False,
            }
        )
    made.test_client_class = PledgesClient
    yield made
    with made.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def app(shared_app, database_url, smtp):
    """The module's app; `database_url` (tests/resilience/conftest.py) has emptied PostgreSQL."""
    smtp.reset(maildir=shared_app.config["DEV_MAILDIR"])
    return shared_app


def examples(count: int):
    """Few enough for the whole module to run in about two minutes on two cores; derandomized
    so that CI sees the same examples every time."""
    return settings(
        max_examples=count,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# -- what a hostile visitor types ---------------------------------------------------------------

INJECTED = "victim@attacker.test"

PAYLOADS = [
    # empty, blank, invisible, control characters
    "",
    " ",
    "\t\n",
    "\x00",
    "a\x00b",
    "\x00" * 50,
    "\x1b[31mred",
    "\x7f",
    "\x08",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u2028",
    "\u2029",
    "\u00a0",
    # direction, composition, astral planes
    "\u202egnp.exe",
    "\u202bمرحبا بالعالم\u202c",
    "שלום עולם",
    "𝕳𝖊𝖑𝖑𝖔",
    "😀" * 40,
    "e\u0301" * 40,
    "Z̴̡̢̛a̶̛l̸g̵o̷",
    "ǅ",
    "ﬀ",
    "İ",
    # lone surrogates: sent as the bytes a broken client would send (CESU-8)
    "\ud800",
    "a\udfffb",
    # markup and script
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "<svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "javascript:alert(1)",
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//attacker.test>",
    "{{7*7}}",
    "${7*7}",
    "%(name)s %s %d",
    "{0.__class__}",
    # SQL and paths
    "'; DROP TABLE supporters; --",
    "' OR '1'='1",
    "%' OR 1=1 --",
    "\\",
    "%",
    "_",
    "%00",
    "../../../etc/passwd",
    "//attacker.test",
    "/\\attacker.test",
    "http://attacker.test/",
    # numbers that are not amounts
    "-1",
    "0",
    "-0",
    "0.001",
    "0.00",
    "1e3",
    "1E400",
    "NaN",
    "Infinity",
    "-inf",
    "1,5",
    "1.5.5",
    "12.345",
    "１０",
    "٣",
    "⑤",
    "²",
    "9" * 25,
    str(2**31),
    str(2**63),
    str(2**64 + 1),
    "1" + "0" * 400,
    "10 000",
    "+10",
    "0x10",
    "10\x00",
    " 10 ",
    "10.",
    ".5",
    "1_000",
    "2026-02-30",
    "0001-01-01",
    "9999-12-31",
    "99999-01-01",
    "-2026-01-01",
    # header injection
    f"x@example.org\r\nBcc: {INJECTED}",
    f"Name\r\nBcc: {INJECTED}",
    "a\nb",
    "a\rb",
    f"Name\nTo: {INJECTED}",
    "Subject\r\n\r\n<p>body</p>",
]
#: Past every length limit of a form (60, 80, 120, 200, 500, 20,000) and of a column.
oversized = st.builds(
    operator.mul,
    st.sampled_from(["x", "é", "😀", "<b>", "9"]),
    st.sampled_from([61, 81, 121, 201, 255, 256, 501, 1_001, 20_001, 100_000]),
)

hostile_text = st.one_of(
    st.sampled_from(PAYLOADS),
    oversized,
    st.text(max_size=30),
    st.builds(operator.add, st.sampled_from(PAYLOADS), st.text(max_size=8)),
    st.builds(operator.add, st.text(max_size=8), st.sampled_from(PAYLOADS)),
    st.integers().map(str),
    st.floats().map(str),
)
#: Bytes a browser would never send: invalid UTF-8 among them.
hostile_bytes = st.binary(max_size=24)
hostile = st.one_of(hostile_text, hostile_text, hostile_text, hostile_bytes)


def _encoded(pairs: list[tuple[str, str | bytes]]) -> bytes:
    """application/x-www-form-urlencoded, lone surrogates and all (as CESU-8 bytes)."""

    def raw(text: str | bytes) -> bytes:
        return text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text

    return urlencode([(raw(key), raw(value)) for key, value in pairs]).encode("ascii")


# -- the world and its visitors ------------------------------------------------------------------

#: Which visitors see the pages of each kind of route (tests/organizer's ACCESS table).
SEEN_BY = {
    "public": ("anonymous", "supporter"),
    "open-organizer-sign-in": ("anonymous",),
    "dev-only": ("anonymous", "supporter"),
    "supporter": ("supporter",),
    "own-pledge": ("supporter",),
    "organizer-second-factor": ("organizer without TOTP", "invitee"),
    "organizer": ("organizer",),
    "admin": ("admin",),
}


@dataclass
class Scene:
    """The matrix's world, its visitors' clients, and the pages each visitor opens."""

    world: World
    clients: dict
    pages: dict[str, list[str]]
    public_case_id: int
    csrf: dict[str, str]

    def token(self, visitor: str) -> str:
        if visitor not in self.csrf:
            self.csrf[visitor] = self.clients[visitor].csrf_token()
        return self.csrf[visitor]


def _scene(app) -> Scene:
    """The matrix's world, with the supporter's pledges in every state that shows a form
    (paused: resume; ending: restart; a name asked for: settle it), an invitee halfway through
    signing in (enrolment), and the pages only a link leads to: a sign-in link, an unsubscribe
    link, the demo checkout, gift and card pages."""
    world = _seed(app)
    with app.app_context(), app.test_request_context():
        ada = db.session.get(Supporter, world.supporter_ids[0])
        now = utcnow()
        paused = make_pledge(ada, amount=7_00, status=PledgeStatus.PAUSED)
        paused.paused_until = now + timedelta(days=40)
        ending = make_pledge(ada, amount=8_00, ends_at=now + timedelta(days=20))
        ending.requested_public_name = "Ada"
        pending = make_pledge(ada, amount=9_00, status=PledgeStatus.PENDING)
        case = db.session.scalar(select(Case).where(Case.slug == world.public_slug))
        demo = gateway()
        linked = {
            "anonymous": [
                f"/login/{auth_tokens.issue(ada)}",
                f"/organizer/login/{auth_tokens.issue(db.session.get(Organizer, world.organizer_ids['organizer']))}",
                f"/unsubscribe/{unsubscribe.token(ada, 'updates')}",
            ],
            "supporter": [
                demo.start_checkout(pending, success_url="/pledge/thanks", cancel_url="/pledge"),
                demo.start_gift_checkout(
                    ada, 5_00, "EUR", case, success_url="/member", cancel_url="/member"
                ),
                demo.card_update_url(ada.pledges[0], return_url="/member"),
            ],
        }
        db.session.commit()
        case_id = case.id
    clients = Visitors(app, world)
    pages: dict[str, list[str]] = {}
    for endpoint, method, url, _form in _requests(app, world, world.targets["organizer"]):
        if method == "GET" and not endpoint.startswith("api."):
            for visitor in SEEN_BY[ACCESS[endpoint]]:
                pages.setdefault(visitor, []).append(url)
    for visitor, urls in linked.items():
        pages[visitor] += urls
    return Scene(world, clients, pages, case_id, {})


def _forms_on_pages(app, scene: Scene, visitor: str, urls: list[str]):
    """(endpoint, page, form) for every POST form on these pages."""
    adapter = app.url_map.bind("pledges.test")
    for url in urls:
        response = scene.clients[visitor].get(url)
        if "html" not in response.content_type:
            continue
        for form in forms_on(url, response.get_data(as_text=True)):
            if form.method == "POST":
                endpoint, _ = adapter.match(urlsplit(form.action).path, method="POST")
                yield endpoint, url, form


def _crawl(app, scene: Scene) -> dict[str, tuple[str, Form]]:
    """endpoint -> (visitor, form): every POST form the pages show, the first one found."""
    found: dict[str, tuple[str, Form]] = {}
    for visitor, urls in scene.pages.items():
        for endpoint, url, form in _forms_on_pages(app, scene, visitor, urls):
            if endpoint not in found:
                found[endpoint] = (visitor, form)
                _FOUND_ON.setdefault(endpoint, scene.pages[visitor].index(url))
    return found


#: endpoint -> which of its visitor's pages shows its form (the world is the same every time).
_FOUND_ON: dict[str, int] = {}


def _form(app, scene: Scene, endpoint: str, visitor: str) -> Form:
    """The endpoint's form as its visitor finds it, looking first where it was found before."""
    urls = scene.pages[visitor]
    if endpoint in _FOUND_ON:
        urls = [urls[_FOUND_ON[endpoint]], *urls]
    for found, url, form in _forms_on_pages(app, scene, visitor, urls):
        if found == endpoint:
            _FOUND_ON[endpoint] = scene.pages[visitor].index(url)
            return form
    raise AssertionError(f"no page shows {visitor} the form of {endpoint}")


class Visitors(dict):
    """One client per visitor, signed in as far as that visitor goes when first asked for."""

    def __init__(self, app, world: World) -> None:
        super().__init__()
        self.app, self.world = app, world

    def __missing__(self, visitor: str):
        client = self[visitor] = self.app.test_client()
        sign_in_again(self.app, self.world, client, visitor)
        return client


def sign_in_again(app, world: World, client, visitor: str) -> None:
    """A supporter by their emailed link; an organizer straight into the session the link and
    the code give (a TOTP code is taken once per half minute, and this happens often)."""
    if visitor == "supporter":
        sign_in_supporter(app, client, world.supporter_ids[0])
    elif visitor == "invitee":
        use_link(app, client, world.organizer_ids["invitee"])
    elif visitor in ("organizer", "admin", "organizer without TOTP"):
        with app.app_context():
            organizer = db.session.get(Organizer, world.organizer_ids[visitor])
            state = {
                "id": organizer.id,
                "epoch": organizer.session_epoch,
                "since": utcnow().isoformat(),
                "second_factor": visitor != "organizer without TOTP",
            }
        with client.session_transaction() as session:
            session["organizer"] = state


def _restore(app, scene: Scene, visitor: str) -> None:
    """Sign a visitor in again after a form signed them out."""
    sign_in_again(app, scene.world, scene.clients[visitor], visitor)
    scene.csrf.pop(visitor, None)


# -- what every answer must be ------------------------------------------------------------------


def _offered(body: str, action: str, fields: tuple[str, ...]) -> bool:
    """Whether the answer shows the form posted to `action`, with a field to correct."""
    return any(
        form.action == action and set(fields) & set(form.fields) for form in forms_on(action, body)
    )


def _check(response, what: str, action: str = "", fields: tuple[str, ...] = ()) -> None:
    """No 500; a refusal says why, beside the field; nothing sent comes back as markup; no
    header carries a line break."""
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{what}: {response.status_code}\n{body[:2000]}"
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, f"{what}: header {name}: {value!r}"
    if "html" not in (response.content_type or ""):
        return
    assert active_markup(body) == [], f"{what}: active markup in the answer"
    # The form comes back to be corrected, and says what is wrong. (It may not come back: a
    # stale tab posts a form that the page no longer offers, such as cancelling twice.)
    if response.status_code == 422 and action and _offered(body, action, fields):
        assert 'class="error"' in body or 'aria-invalid="true"' in body, (
            f"{what}: 422 without a message beside the field\n{body[:3000]}"
        )


def _stored_scripts(app) -> set[str]:
    """Every value of every text column that holds a script or an event handler."""
    found: set[str] = set()
    with app.app_context():
        columns = db.session.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns"
                " WHERE table_schema = 'public'"
                " AND data_type IN ('text', 'character varying')"
            )
        ).all()
        for table, column in columns:
            found.update(
                db.session.scalars(
                    text(
                        f'SELECT "{column}" FROM "{table}"'
                        f" WHERE \"{column}\" ILIKE '%<script%' OR \"{column}\" ILIKE '%onerror=%'"
                    )
                )
            )
    return found


def _pages_run_nothing(app, scene: Scene) -> None:
    """Every page, as every visitor: no 500, no stored script served as markup."""
    stored = _stored_scripts(app)
    problems = []
    for visitor, urls in scene.pages.items():
        for url in urls:
            response = scene.clients[visitor].get(url)
            body = response.get_data(as_text=True)
            if response.status_code >= 500:
                problems.append(f"{visitor} GET {url}: {response.status_code}")
            if "html" not in response.content_type:
                continue
            problems += [f"{visitor} GET {url}: {tag}" for tag in active_markup(body)]
            problems += [f"{visitor} GET {url}: raw {v[:80]!r}" for v in stored if v in body]
    assert problems == [], "\n".join(["", *problems])


# -- every form ---------------------------------------------------------------------------------

#: POST routes that take no form from a page, and where they are driven instead.
NOT_A_PAGE_FORM = {
    "webhooks.stripe_webhook": "a JSON body signed by Stripe: tests/stripe",
    "api.create_case": "JSON API: tests/api (schemathesis)",
    "api.edit_case": "JSON API: tests/api (schemathesis)",
    "api.post_update": "JSON API: tests/api (schemathesis)",
    "api.record_disbursement": "JSON API: tests/api (schemathesis)",
}

#: The form each visitor posts, by endpoint. The first test checks it against the pages.
FORMS = {
    "auth.logout": "supporter",
    "auth.logout_everywhere": "supporter",
    "auth.request_link": "anonymous",
    "auth.sign_in": "anonymous",
    "demo.pay": "supporter",
    "demo.pay_gift": "supporter",
    "demo.save_card": "supporter",
    "flyer.with_note": "supporter",
    "language.choose": "anonymous",
    "member.cancel": "supporter",
    "member.change_amount": "supporter",
    "member.choose_name": "supporter",
    "member.delete_account": "supporter",
    "member.earmark": "supporter",
    "member.give": "supporter",
    "member.pause": "supporter",
    "member.preferences": "supporter",
    "member.public_name": "supporter",
    "member.restart": "supporter",
    "member.resume": "supporter",
    "member.update_card": "supporter",
    "organizer.check_code": "organizer without TOTP",
    "organizer.create_api_token": "admin",
    "organizer.create_case": "organizer",
    "organizer.enrol": "invitee",
    "organizer.invite": "admin",
    "organizer.logout": "admin",
    "organizer.logout_everywhere": "admin",
    "organizer.move_case": "organizer",
    "organizer.post_update": "organizer",
    "organizer.record_disbursement": "organizer",
    "organizer.remove": "admin",
    "organizer.request_link": "anonymous",
    "organizer.resend_invitation": "admin",
    "organizer.reset_second_factor": "admin",
    "organizer.reverse": "organizer",
    "organizer.revoke_api_token": "admin",
    "organizer.save_case": "organizer",
    "organizer.save_update": "organizer",
    "organizer.sign_in": "anonymous",
    "pledge.create": "anonymous",
    "unsubscribe.unsubscribe_now": "anonymous",
}

#: Values that get a form past its validation, so that a hostile value in one field is stored.
VALID = {
    "pledge.create": {"email": "hostile.ok@example.org", "amount": "10"},
    "auth.request_link": {"email": "ada.matrix@example.org"},
    "organizer.request_link": {"email": "olga.matrix@example.org"},
    "member.choose_name": {"name": "Ada"},
    "member.give": {"amount": "5"},
    "member.cancel": {"reason": "Moving on"},
    "flyer.with_note": {"note": "Pinned at the library"},
    "organizer.check_code": {"code": "123456"},
    "organizer.enrol": {"code": "123456"},
    "organizer.create_case": {"title": "A case", "summary": "What it is.", "story": "More."},
    "organizer.post_update": {"title": "Arrived", "body": "Safely."},
    "organizer.record_disbursement": {"amount": "1.00", "note": "Bus tickets"},
    "organizer.reverse": {"note": "Recorded twice"},
    "organizer.invite": {"email": "new.organizer@example.org", "name": "New"},
    "organizer.create_api_token": {"name": "Script"},
}

#: Fields whose valid value would end the test's subject: a deleted account stays deleted.
NEVER_VALID = {("member.delete_account", "confirm")}
#: Forms after which their visitor is signed out, and signed in again for the next example.
SIGNS_OUT = {
    "auth.logout",
    "auth.logout_everywhere",
    "organizer.logout",
    "organizer.logout_everywhere",
}


def test_every_post_route_is_a_form_driven_here_or_set_aside(app):
    """A new form is driven without anyone listing it; a new POST route is a decision."""
    scene = _scene(app)
    found = _crawl(app, scene)
    posted = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "POST" in rule.methods and rule.endpoint != "static"
    }

    assert sorted(posted - FORMS.keys() - NOT_A_PAGE_FORM.keys()) == []
    assert sorted(FORMS.keys() - posted) == []
    assert {endpoint: visitor for endpoint, (visitor, _) in found.items()} == FORMS


def _value(data, endpoint: str, form: Form, name: str, hostile_names: set[str]):
    """One field's value(s): hostile, or what gets the form through; None leaves it out."""
    field = form.fields[name]
    if name in hostile_names:
        return data.draw(
            st.one_of(
                hostile,
                st.none(),
                st.lists(hostile, min_size=2, max_size=3),
                *([st.sampled_from(field.values)] if field.values and not field.typed else []),
            ),
            label=name,
        )
    if (endpoint, name) in NEVER_VALID:
        return None
    if name in VALID.get(endpoint, {}):
        return VALID[endpoint][name]
    if field.kind == "button" or field.kind == "radio":
        return data.draw(st.sampled_from(field.values), label=name) if field.values else ""
    if field.kind == "select":
        chosen = [value for value in field.values if value] or field.values or [""]
        return chosen[0]
    if field.kind == "checkbox":
        return field.values[:1] if data.draw(st.booleans(), label=name) else None
    return field.values[0] if field.values else ""


def _pairs(values: dict) -> list[tuple[str, str | bytes]]:
    pairs = []
    for name, value in values.items():
        if value is None:
            continue
        pairs += [(name, item) for item in (value if isinstance(value, list) else [value])]
    return pairs


@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_a_form_takes_anything_without_a_500_or_a_stored_script(app, endpoint):
    scene = _scene(app)
    visitor = FORMS[endpoint]
    form = _form(app, scene, endpoint, visitor)
    client = scene.clients[visitor]
    names = sorted(set(form.fields) - {"csrf_token"})
    # What a visitor fills in (not buttons or hidden fields): a refusal is shown beside these.
    shown = tuple(n for n in names if form.fields[n].kind not in ("button", "hidden"))
    # A form with nothing to type still gets what a tampered request would add to it.
    junk_names = st.sampled_from(["next", "email", "amount", "pledge", "id", "x" * 300, "\x00"])

    @examples(8 if not names else 16)
    @given(data=st.data())
    def post(data) -> None:
        hostile_names = (
            set(data.draw(st.sets(st.sampled_from(names), min_size=1))) if names else set()
        )
        values = {name: _value(data, endpoint, form, name, hostile_names) for name in names}
        extra = data.draw(st.dictionaries(junk_names, hostile, max_size=2 if not names else 1))
        pairs = [("csrf_token", scene.token(visitor)), *_pairs(values), *_pairs(extra)]
        for htmx in (False, True):
            response = client.post(
                form.action,
                data=_encoded(pairs),
                content_type="application/x-www-form-urlencoded",
                headers={"HX-Request": "true"} if htmx else {},
            )
            what = f"{visitor} POST {form.action} {'htmx ' if htmx else ''}{pairs!r:.600}"
            _check(response, what, form.action, shown)
            if endpoint in SIGNS_OUT and response.status_code < 400:
                _restore(app, scene, visitor)
                pairs[0] = ("csrf_token", scene.token(visitor))

    post()
    if any(form.fields[name].typed for name in names):  # else there is nothing to store
        _pages_run_nothing(app, scene)


# -- query strings and path segments -------------------------------------------------------------

#: Every query parameter a page reads, and a few it does not.
QUERY_NAMES = [
    "case", "currency", "size", "theme", "page", "before", "gift", "amount", "paid_on", "note",
    "next", "lang", "locale", "status", "year", "kind", "q", "sort", "per_page",
]  # fmt: skip

#: Ids as a URL can carry them: past 32 and 64 bits, zero, and the ones that exist.
hostile_id = st.one_of(
    st.sampled_from([0, 1, 2, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64 + 1, 10**40]),
    st.integers(min_value=-(2**70), max_value=2**70),
).map(str)
hostile_segment = st.one_of(hostile_text.filter(lambda value: value != ""), hostile_id)
#: Each known parameter most of the time, and now and then one nobody reads.
hostile_query = st.builds(
    operator.or_,
    st.fixed_dictionaries(
        {}, optional={name: st.one_of(hostile, hostile_id) for name in QUERY_NAMES}
    ),
    st.dictionaries(hostile_text, hostile, max_size=1),
)
ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>")


def _url(rule, segments: dict[str, str], query: dict) -> str:
    def segment(match: re.Match) -> str:
        value = segments[match[2]]
        return quote(value.encode("utf-8", "surrogatepass"), safe="")

    path = ARGUMENT.sub(segment, rule.rule)
    return f"{path}?{_encoded(list(query.items())).decode()}" if query else path


def test_query_strings_and_path_segments_never_make_a_500(app):
    """Every page (and every POST that names something in its path) with hostile query
    parameters and path segments, as the visitor who may open it."""
    scene = _scene(app)
    rules = sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and not rule.endpoint.startswith(("api.", "webhooks."))
        ),
        # Removing an organizer, signing out: last, so that the other pages are still open.
        key=lambda rule: ("GET" not in rule.methods, rule.endpoint, rule.rule),
    )
    for rule in rules:
        if "GET" in rule.methods or rule.arguments:  # a POST's fields are the forms' test
            _fuzz_route(scene, rule)


def _fuzz_route(scene: Scene, rule) -> None:
    method = "GET" if "GET" in rule.methods else "POST"
    visitor = SEEN_BY[ACCESS[rule.endpoint]][0]
    client = scene.clients[visitor]
    ids = {name for name in rule.arguments if rule._converters[name].regex == r"\d+"}
    segments = st.fixed_dictionaries(
        {name: hostile_id if name in ids else hostile_segment for name in rule.arguments}
    )

    def request(segments: dict, query: dict) -> None:
        url = _url(rule, segments, query)
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": scene.token(visitor)})
        _check(response, f"{visitor} {method} {url[:300]}")

    query = hostile_query if method == "GET" else st.just({})
    examples(6)(given(segments=segments, query=query)(request))()
    if method == "GET":  # and every parameter at once at the edges, whatever was drawn
        for edge in (str(2**64), "-1", "\x00", "\ud800", "9" * 30 + ".5"):
            request({name: "1" for name in rule.arguments}, dict.fromkeys(QUERY_NAMES, edge))


# -- email headers ------------------------------------------------------------------------------

#: Line breaks as a header parser might read them, and what an attacker would put after one.
header_injection = st.builds(
    lambda before, brk, header: before + brk + header,
    st.sampled_from(["", "x", "Pat "]),
    st.sampled_from(
        [
            "\r\n",
            "\n",
            "\r",
            "\r\n ",
            "\r\n\t",
            "\x85",
            "\u2028",
            "\x0b",
            "\x0c",
            "%0d%0a",
            "\\r\\n",
            "=?utf-8?q?=0D=0A?=",
        ]
    ),  # fmt: skip
    st.sampled_from(
        [
            f"Bcc: {INJECTED}",
            f"To: {INJECTED}",
            f"Cc: {INJECTED}",
            "Subject: injected",
            f"\r\nBcc: {INJECTED}",
            "Content-Type: text/html\r\n\r\n<p>owned</p>",
        ]
    ),  # fmt: skip
)

#: What a message of ours may carry as headers: nothing anyone typed can add another.
OUR_HEADERS = {
    "From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "List-Unsubscribe", "List-Unsubscribe-Post",
}  # fmt: skip


def test_nothing_typed_becomes_an_email_header(app, smtp, monkeypatch):
    """Names, addresses, titles, reasons and links that reach an email, each with a line
    break and a header after it; then the mail worker sends everything queued."""
    scene = _scene(app)
    clients, world = scene.clients, scene.world
    case_id, pledge_id = scene.public_case_id, world.pledge_ids[0]
    recipients: list[str] = []
    envelopes: list[list[str]] = []
    handle_rcpt, handle_data = smtp.handler.handle_RCPT, smtp.handler.handle_DATA

    async def record_rcpt(server, session, envelope, address, options):  # noqa: ANN001
        recipients.append(address)
        return await handle_rcpt(server, session, envelope, address, options)

    async def record_data(server, session, envelope):  # noqa: ANN001
        envelopes.append(list(envelope.rcpt_tos))
        return await handle_data(server, session, envelope)

    monkeypatch.setattr(smtp.handler, "handle_RCPT", record_rcpt)
    monkeypatch.setattr(smtp.handler, "handle_DATA", record_data)
    counter = iter(range(10_000))

    def pledge(email: str, name: str = "") -> None:
        form = {"amount": "10", "email": email, "earmark": "", "public_name": name}
        form |= {"show_name": "y"} if name else {}
        response = clients["anonymous"].post_form("/pledge", form)
        _check(response, f"pledge {form!r}")
        if response.status_code == 303 and "/demo/checkout/" in response.location:
            _check(clients["anonymous"].post_form(urlsplit(response.location).path), "demo pay")

    def update(title: str) -> None:
        form = {"title": title, "body": "Arrived.", "notify": "y", "action": "save"}
        _check(clients["organizer"].post_form(f"/organizer/cases/{case_id}/updates", form), title)

    def case_title(title: str) -> None:
        form = {"title": title, "summary": "What it is.", "story": "More.", "action": "save"}
        _check(clients["organizer"].post_form(f"/organizer/cases/{case_id}/edit", form), title)
        update("Arrived")

    def post(visitor: str, url: str, form: dict) -> None:
        _check(clients[visitor].post_form(url, form), f"{visitor} POST {url} {form!r}")

    inputs = {
        "pledge email": lambda value: pledge(f"pledger{next(counter)}@example.org{value}"),
        "pledge name": lambda value: pledge(f"pledger{next(counter)}@example.org", value),
        "sign-in email": lambda value: post(
            "anonymous", "/login", {"email": world.supporter_emails[0] + value}
        ),
        "organizer sign-in email": lambda value: post(
            "anonymous", "/organizer/login", {"email": "olga.matrix@example.org" + value}
        ),
        "invitation name": lambda value: post(
            "admin",
            "/organizer/team",
            {"email": f"invitee{next(counter)}@example.org", "name": value, "role": "organizer"},
        ),  # fmt: skip
        "invitation email": lambda value: post(
            "admin",
            "/organizer/team",
            {
                "email": f"invitee{next(counter)}@example.org{value}",
                "name": "New",
                "role": "organizer",
            },
        ),  # fmt: skip
        "update title": update,
        "case title": case_title,
        "public name": lambda value: post(
            "supporter", "/member/name", {"action": "set", "name": value}
        ),
        "cancel reason": lambda value: post(
            "supporter", f"/member/pledges/{pledge_id}/cancel", {"reason": value}
        ),
        "unsubscribe link": lambda value: _check(
            clients["anonymous"].post(
                "/unsubscribe/" + quote(value.encode("utf-8", "surrogatepass"), safe="")
            ),
            f"unsubscribe {value!r}",
        ),
    }

    @examples(40)
    @given(where=st.sampled_from(sorted(inputs)), value=header_injection)
    def send(where: str, value: str) -> None:
        inputs[where](value)

    send()
    for typed in inputs.values():  # each at least once, whatever was drawn
        typed(f"Pat\r\nBcc: {INJECTED}")
    result = app.test_cli_runner().invoke(args=["pledges", "deliver-mail", "--once"])

    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    messages = smtp.messages
    assert len(messages) >= len(inputs) // 2, result.output  # the inputs did reach emails
    assert len(envelopes) == len(messages)
    assert [r for r in recipients if "attacker" in r.lower()] == []
    for message, envelope in zip(messages, envelopes, strict=True):
        headers = set(message.keys())
        assert headers <= OUR_HEADERS, f"{headers - OUR_HEADERS} in {message['Subject']!r}"
        assert len(message.get_all("To")) == 1 and len(message.get_all("Subject")) == 1
        assert "\n" not in str(message["Subject"]) and "\r" not in str(message["Subject"])
        assert envelope == [message["To"].addresses[0].addr_spec], (envelope, message["To"])
        assert "attacker" not in str(message["To"]).lower()
    _check(clients["anonymous"].get("/dev/mail"), "the development mailbox")
