"""Who may do what, for every route of the app, as a matrix.

Access is decided in a few scattered places: the organizer blueprint's guard (with its
OPEN_VIEWS and HALFWAY_VIEWS), `admin_only` on single views, `login_required` on the
supporters' pages. A new view that forgets one of them leaks who gives, or lets anyone move
money. So this walks `app.url_map` itself, every rule and method, as six kinds of visitor, and
fails on a route the ACCESS table does not classify: a new route is a deliberate decision.

Beside the matrix: a supporter's page shows only their own pledge, and an organizer never reads
an email address (only an admin does, in the contributions export and on the team page).
"""

from dataclasses import dataclass, replace
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from flask import url_for
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import AuditEntry, Organizer, Pledge, Supporter
from pledges.services import api_tokens, auth_tokens, cases, disbursements
from pledges.web.organizer import access
from tests.factories import (
    make_case,
    make_contribution,
    make_organizer,
    make_pledge,
    make_supporter,
)
from tests.organizer.signing_in import sign_in, sign_in_supporter, use_link

#: Every endpoint, and who may use it. A route missing here fails the test: add it on purpose.
ACCESS = {
    "public.index": "public",
    "public.case": "public",
    "public.cases": "public",
    "public.healthz": "public",
    "embed.pledge": "public",
    "flyer.flyer": "public",
    "flyer.with_note": "supporter",
    "language.choose": "public",
    "unsubscribe.confirm": "public",
    "unsubscribe.unsubscribe_now": "public",
    "pledge.new": "public",
    "pledge.create": "public",
    "pledge.thanks": "public",
    "auth.login": "public",
    "auth.request_link": "public",
    "auth.confirm": "public",
    "auth.sign_in": "public",
    "auth.logout_page": "public",
    "auth.logout": "supporter",
    "auth.logout_everywhere": "supporter",
    "member.home": "supporter",
    "member.public_name": "supporter",
    "member.preferences": "supporter",
    "member.my_data": "supporter",
    "member.delete_account": "supporter",
    "member.deleted": "public",
    "member.change_amount": "own-pledge",
    "member.update_card": "own-pledge",
    "member.receipt": "own-pledge",
    "member.statement": "supporter",
    "member.give": "supporter",
    "member.choose_name": "supporter",
    "member.pause": "own-pledge",
    "member.resume": "own-pledge",
    "member.cancel": "own-pledge",
    "member.restart": "own-pledge",
    "member.earmark": "own-pledge",
    "organizer.login": "open-organizer-sign-in",
    "organizer.request_link": "open-organizer-sign-in",
    "organizer.confirm": "open-organizer-sign-in",
    "organizer.sign_in": "open-organizer-sign-in",
    "organizer.second_factor": "organizer-second-factor",
    "organizer.check_code": "organizer-second-factor",
    "organizer.enrol": "organizer-second-factor",
    "organizer.logout": "organizer-second-factor",
    "organizer.dashboard": "organizer",
    "organizer.case_list": "organizer",
    "organizer.new_case": "organizer",
    "organizer.create_case": "organizer",
    "organizer.case": "organizer",
    "organizer.edit_case": "organizer",
    "organizer.save_case": "organizer",
    "organizer.move_case": "organizer",
    "organizer.post_update": "organizer",
    "organizer.edit_update": "organizer",
    "organizer.save_update": "organizer",
    "organizer.export_list": "organizer",
    "organizer.export": "organizer",
    "organizer.disbursement_list": "organizer",
    "organizer.pool": "organizer",
    "organizer.record_disbursement": "organizer",
    "organizer.reverse_form": "organizer",
    "organizer.reverse": "organizer",
    "organizer.logout_everywhere": "organizer",
    "organizer.team": "admin",
    "organizer.invite": "admin",
    "organizer.resend_invitation": "admin",
    "organizer.remove": "admin",
    "organizer.reset_second_factor": "admin",
    "organizer.audit_log": "admin",
    "organizer.api_token_list": "admin",
    "organizer.create_api_token": "admin",
    "organizer.revoke_api_token_form": "admin",
    "organizer.revoke_api_token": "admin",
    "webhooks.stripe_webhook": "webhook",
    "api.fund": "public",
    "api.cases": "public",
    "api.case": "public",
    "api.openapi": "public",
    "api.create_case": "api-token",
    "api.edit_case": "api-token",
    "api.post_update": "api-token",
    "api.record_disbursement": "api-token",
    "api.export": "api-token",
    "demo.checkout": "dev-only",
    "demo.pay": "dev-only",
    "demo.card": "dev-only",
    "demo.save_card": "dev-only",
    "demo.gift": "dev-only",
    "demo.pay_gift": "dev-only",
    "demo.mail_index": "dev-only",
    "demo.mail_message": "dev-only",
}

VISITORS = (
    "anonymous",
    "supporter",
    "other supporter",
    "organizer without TOTP",
    "organizer",
    "admin",
)
OUTSIDERS = VISITORS[:4]  # nobody among them may change anything an organizer can


SIGN_IN_PAGES = ("/login", "/organizer/login", "/organizer/second-factor")


# What a visitor gets: each says whether a response is that outcome. (A 5xx fails apart.)
def answered(response) -> bool:
    """Served, not bounced: whatever the page says (a 410 for a dead link, a 422 for a form)."""
    return (
        response.status_code < 500
        and response.status_code not in (401, 403)
        and not (
            response.status_code in (301, 302, 303, 307, 308) and _path(response) in SIGN_IN_PAGES
        )
    )


def let_in(response) -> bool:
    """Done: a page or a redirect onwards, never to a sign-in page."""
    return 200 <= response.status_code < 400 and _path(response) not in SIGN_IN_PAGES


def not_found(response) -> bool:
    """Someone else's: it does not exist for them (not even "forbidden")."""
    return response.status_code == 404


def let_in_or_invalid(response) -> bool:
    """Done, or refused for what was sent (a form error, a conflict), never for who sent it."""
    return let_in(response) or response.status_code in (400, 409, 410, 422)


def past_the_guard(response) -> bool:
    """The second-factor views: anything (a 422 for a wrong code, a redirect on to the code
    page) but a refusal or a trip back to the first sign-in page."""
    return response.status_code not in (401, 403) and _path(response) != "/organizer/login"


def sent_to_supporter_sign_in(response) -> bool:
    return response.status_code in (302, 303) and _path(response) == "/login"


def sent_to_organizer_sign_in(response) -> bool:
    return response.status_code == 303 and _path(response) == "/organizer/login"


def sent_to_second_factor(response) -> bool:
    return response.status_code == 303 and _path(response) == "/organizer/second-factor"


def needs_a_token(response) -> bool:
    return response.status_code == 401


def forbidden(response) -> bool:
    return response.status_code == 403


def refused(response) -> bool:
    return 400 <= response.status_code < 500


#: access -> what each visitor (in the order of VISITORS) gets.
EXPECTED = {
    "public": (answered,) * 6,
    "supporter": (
        sent_to_supporter_sign_in,
        let_in,
        let_in,
        sent_to_supporter_sign_in,
        sent_to_supporter_sign_in,
        sent_to_supporter_sign_in,
    ),
    # A change to a pledge: only its own supporter's, anyone else's is not found.
    "own-pledge": (
        sent_to_supporter_sign_in,
        let_in_or_invalid,
        not_found,
        sent_to_supporter_sign_in,
        sent_to_supporter_sign_in,
        sent_to_supporter_sign_in,
    ),
    "open-organizer-sign-in": (answered,) * 6,
    "organizer-second-factor": (
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        past_the_guard,
        past_the_guard,
        past_the_guard,
    ),
    "organizer": (
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        sent_to_second_factor,
        let_in,
        let_in_or_invalid,
    ),
    "admin": (
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        sent_to_organizer_sign_in,
        sent_to_second_factor,
        forbidden,
        let_in_or_invalid,
    ),
    # Only a signed request from Stripe gets in (with demo payments, nobody: 404).
    "webhook": (refused,) * 6,
    # The organizer API opens to a bearer token only: a signed-in session, even an admin's, is
    # no way in (the API takes no CSRF token, so a cookie must not be enough).
    "api-token": (needs_a_token,) * 6,
    # Stand-ins for Stripe and a mail server, in development only (see the test at the end).
    "dev-only": (answered,) * 6,
}

#: Walked after every other route, because they end something the walk still needs.
LAST = (
    "organizer.remove",
    "auth.logout",
    "auth.logout_everywhere",
    "organizer.logout",
    "organizer.logout_everywhere",
)


def _path(response) -> str | None:
    return urlsplit(response.location).path if response.location else None


@pytest.fixture
def config(config):
    """The walk posts to the sign-in views more often than their rate limits allow."""
    return {**config, "RATELIMIT_ENABLED": False}


@dataclass(frozen=True)
class Targets:
    """The objects one organizer acts on, so the organizer's and the admin's changes (moving a
    case, reversing a payment) do not run into each other."""

    case_id: int
    update_id: int
    disbursement_id: int


@dataclass(frozen=True)
class World:
    public_slug: str
    supporter_ids: tuple[int, int]
    supporter_emails: tuple[str, str]
    pledge_ids: tuple[int, int]
    contribution_id: int  # the first supporter's
    organizer_ids: dict[str, int]  # "organizer", "admin", "organizer without TOTP", "invitee"
    organizer_emails: dict[str, str]
    targets: dict[str, Targets]  # "organizer", "admin"
    api_token_id: int  # the admin's


def _seed(app) -> World:
    """Two supporters whose money funded cases, and the four organizers of the matrix."""
    with app.app_context():
        public = make_case(title="Legal defence after an attack")
        ada = make_supporter("ada.matrix@example.org")
        ben = make_supporter("ben.matrix@example.org")
        pledge_a = make_pledge(ada, amount=12_34, case_id=public.id)
        pledge_b = make_pledge(ben, amount=56_78, requested_public_name="Ben the Giver")
        paid_a = make_contribution(pledge_a)
        make_contribution(pledge_b)
        staff = {
            "organizer": make_organizer("organizer", email="olga.matrix@example.org"),
            "admin": make_organizer("admin", email="adam.matrix@example.org"),
            "organizer without TOTP": make_organizer(email="halfway.matrix@example.org"),
            "invitee": make_organizer(enrolled=False, email="invitee.matrix@example.org"),
        }
        targets = {}
        for role in ("organizer", "admin"):
            case = make_case(title=f"Medication for a journalist ({role})")
            update = cases.post_update(
                case, "Medication bought", "Three months of it.", notify=False, by=staff[role]
            )
            paid = disbursements.record(
                case, 5_00, date.today(), "Pharmacy", by=staff[role]
            ).disbursement
            db.session.commit()
            targets[role] = Targets(case.id, update.id, paid.id)
        api_token = api_tokens.issue(
            "Matrix script", ["exports:read"], timedelta(days=30), by=staff["admin"]
        ).token
        db.session.commit()
        return World(
            public_slug=public.slug,
            supporter_ids=(ada.id, ben.id),
            supporter_emails=(ada.email, ben.email),
            pledge_ids=(pledge_a.id, pledge_b.id),
            contribution_id=paid_a.id,
            organizer_ids={name: person.id for name, person in staff.items()},
            organizer_emails={name: person.email for name, person in staff.items()},
            targets=targets,
            api_token_id=api_token.id,
        )


def _visitors(app, world: World) -> dict:
    """One client per visitor, each signed in as far as that visitor goes."""
    clients = {name: app.test_client() for name in VISITORS}
    sign_in_supporter(app, clients["supporter"], world.supporter_ids[0])
    sign_in_supporter(app, clients["other supporter"], world.supporter_ids[1])
    use_link(app, clients["organizer without TOTP"], world.organizer_ids["organizer without TOTP"])
    sign_in(app, clients["organizer"], world.organizer_ids["organizer"])
    sign_in(app, clients["admin"], world.organizer_ids["admin"])
    return clients


def _requests(app, world: World, targets: Targets) -> list[tuple[str, str, str, dict]]:
    """(endpoint, method, url, form) for every rule and method but `static`, in walking order."""
    today = date.today().isoformat()
    case_text = {"title": "A relocation", "summary": "Out of harm's way.", "story": "Done."}
    update_text = {"title": "Arrived safely", "body": "The flat is rented."}
    forms = {
        "pledge.create": {"amount": "10", "email": "someone.new@example.org", "earmark": ""},
        "auth.request_link": {"email": world.supporter_emails[0]},
        "member.public_name": {"pledge": str(world.pledge_ids[0]), "decision": "anonymous"},
        "member.change_amount": {"amount": "15"},
        "member.give": {"amount": "5", "earmark": ""},
        "member.choose_name": {"action": "set", "name": "Matrix"},
        "member.pause": {"months": "1"},
        "member.cancel": {"reason": "matrix"},
        "organizer.request_link": {"email": world.organizer_emails["organizer"]},
        "organizer.check_code": {"code": "not-a-code"},
        "organizer.enrol": {"code": "not-a-code"},
        "organizer.create_case": case_text,
        "organizer.save_case": case_text,
        "organizer.move_case": {"status": "funded"},
        "organizer.post_update": update_text,
        "organizer.save_update": update_text,
        "organizer.record_disbursement": {
            "case": str(targets.case_id),
            "amount": "1.00",
            "paid_on": today,
            "note": "Bus tickets",
        },
        "organizer.reverse": {"paid_on": today, "note": "Recorded twice"},
        "organizer.invite": {"email": "new.matrix@example.org", "name": "New", "role": "organizer"},
        "organizer.create_api_token": {
            "name": "Matrix",
            "scopes": "exports:read",
            "lifetime": "30",
        },
    }
    queries = {
        "organizer.pool": {"case": targets.case_id, "amount": "1.00", "paid_on": today},
        "organizer.disbursement_list": {"case": targets.case_id},
    }
    values = {
        "slug": world.public_slug,
        "case_id": targets.case_id,
        "update_id": targets.update_id,
        "disbursement_id": targets.disbursement_id,
        "organizer_id": world.organizer_ids["invitee"],
        "api_token_id": world.api_token_id,
        "pledge_id": world.pledge_ids[0],
        "contribution_id": world.contribution_id,
        "year": 2026,
        "kind": "contributions",
        "token": "not-a-real-token",
        "session": "not-a-checkout-session",
        "key": "not-a-message",
    }
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    rules.sort(key=lambda rule: LAST.index(rule.endpoint) + 1 if rule.endpoint in LAST else 0)
    found = []
    with app.test_request_context():
        for rule in rules:
            unknown = rule.arguments - values.keys()
            assert not unknown, f"{rule.rule}: give the matrix a value for {sorted(unknown)}"
            arguments = {name: values[name] for name in rule.arguments}
            url = url_for(rule.endpoint, **arguments, **queries.get(rule.endpoint, {}))
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method, url, forms.get(rule.endpoint, {})))
    return found


def _send(client, method: str, url: str, form: dict, *, htmx: bool = False):
    """The request as a browser sends it, after which the visitor's session is put back: a
    sign-out on the way must not turn the rest of the walk into an anonymous one."""
    saved = client.get_cookie("session")
    headers = {"HX-Request": "true"} if htmx else {}
    if method == "GET":
        response = client.get(url, headers=headers)
    else:
        data = {"csrf_token": client.csrf_token(), **form}
        response = client.open(url, method=method, data=data, headers=headers)
    response.get_data()  # a streamed export fails while it is read, not before
    response.close()
    if saved is not None:
        client.set_cookie("session", saved.decoded_value)
    return response


def _walk(app, world, clients, visitor: str) -> list[str]:
    """Every route as one visitor; what went wrong, one line each."""
    targets = world.targets["admin" if visitor == "admin" else "organizer"]
    problems = []
    for endpoint, method, url, form in _requests(app, world, targets):
        supporter = visitor in ("supporter", "other supporter")
        if endpoint == ("auth" if supporter else "organizer") + ".logout_everywhere":
            _sign_in_again(app, world, clients, visitor)  # signing out before ended the session
        expected = EXPECTED[ACCESS[endpoint]][VISITORS.index(visitor)]
        try:
            response = _send(clients[visitor], method, url, form)
        except Exception as error:  # noqa: BLE001 - one failure must not hide the rest
            problems.append(f"{visitor:>22} {method:4} {url}: raised {error!r}")
            continue
        if response.status_code >= 500 or not expected(response):
            problems.append(
                f"{visitor:>22} {method:4} {url}: {response.status_code}"
                f" {response.location or ''} (expected {expected.__name__})"
            )
    return problems


def _sign_in_again(app, world, clients, visitor: str) -> None:
    if visitor in ("supporter", "other supporter"):
        sign_in_supporter(app, clients[visitor], world.supporter_ids[visitor == "other supporter"])
    elif visitor == "organizer without TOTP":
        use_link(app, clients[visitor], world.organizer_ids[visitor])
    elif visitor in ("organizer", "admin"):
        sign_in(app, clients[visitor], world.organizer_ids[visitor], steps_ahead=1)


def _audit_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry))


def test_every_route_is_classified_and_the_table_agrees_with_the_code(app):
    """A route nobody thought about fails here first; so does a view opened or closed in the
    code (OPEN_VIEWS, HALFWAY_VIEWS, admin_only) without the table knowing."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - {"static"}

    assert sorted(endpoints - ACCESS.keys()) == [], "routes the ACCESS table does not classify"
    assert sorted(ACCESS.keys() - endpoints) == [], "ACCESS names routes that no longer exist"
    assert set(ACCESS.values()) == EXPECTED.keys()

    def classified(kind: str) -> set[str]:
        return {endpoint for endpoint, access_ in ACCESS.items() if access_ == kind}

    assert classified("open-organizer-sign-in") == access.OPEN_VIEWS
    assert classified("organizer-second-factor") == access.HALFWAY_VIEWS
    checked_code = access.admin_only(lambda: None).__code__  # the same for every wrapped view
    admin_only = {
        endpoint
        for endpoint, view in app.view_functions.items()
        if getattr(view, "__code__", None) is checked_code
    }
    assert admin_only == classified("admin")
    guarded = {
        endpoint
        for endpoint, access_ in ACCESS.items()
        if access_ in ("organizer-second-factor", "organizer", "admin")
    }
    outside_the_blueprint = sorted(e for e in guarded if not e.startswith("organizer."))
    assert outside_the_blueprint == [], "organizer pages away from the blueprint's guard"


def test_every_route_answers_each_visitor_as_the_table_says(app):
    """The matrix. Outsiders walk first, and must have changed nothing an organizer can; then
    the organizer and the admin, on objects of their own."""
    world = _seed(app)
    clients = _visitors(app, world)
    audited = _audit_count(app)

    problems = []
    for visitor in OUTSIDERS:
        problems += _walk(app, world, clients, visitor)
    assert _audit_count(app) == audited, "an outsider did something an organizer does"
    for visitor in ("organizer", "admin"):
        problems += _walk(app, world, clients, visitor)

    assert problems == [], "\n".join(["", *problems])


def test_htmx_requests_are_guarded_the_same_way(app):
    """For htmx the guard answers 200 with HX-Redirect instead of a 303: the body must still be
    empty, or a fragment of an organizer page would reach a stranger. The fragments the
    organizer and the admin get are walked too: an htmx answer is another template."""
    world = _seed(app)
    clients = _visitors(app, world)
    bounced_to = {
        "anonymous": "/organizer/login",
        "supporter": "/organizer/login",
        "organizer without TOTP": "/organizer/second-factor",
    }
    problems = []
    for endpoint, method, url, form in _requests(app, world, world.targets["organizer"]):
        if ACCESS[endpoint] not in ("organizer", "admin"):
            continue
        for visitor, path in bounced_to.items():
            response = _send(clients[visitor], method, url, form, htmx=True)
            if (
                response.status_code != 200
                or response.headers.get("HX-Redirect") != path
                or response.get_data()
            ):
                problems.append(f"{visitor:>22} {method:4} {url}: {response.status_code}")
        response = _send(clients["organizer"], method, url, form, htmx=True)
        if response.status_code >= 500 or (
            ACCESS[endpoint] == "admin" and response.status_code != 403
        ):
            problems.append(f"{'organizer':>22} {method:4} {url}: {response.status_code}")
    for endpoint, method, url, form in _requests(app, world, world.targets["admin"]):
        if ACCESS[endpoint] in ("organizer", "admin"):
            response = _send(clients["admin"], method, url, form, htmx=True)
            if response.status_code >= 500 or response.status_code == 403:
                problems.append(f"{'admin':>22} {method:4} {url}: {response.status_code}")

    assert problems == [], "\n".join(["", *problems])


def test_outsiders_cannot_tell_which_ids_exist(app):
    """The guard answers before the view looks anything up: an id that exists and one that
    does not get the same redirect, so nobody counts cases or organizers from outside."""
    world = _seed(app)
    clients = _visitors(app, world)
    nowhere = Targets(case_id=999_999, update_id=999_999, disbursement_id=999_999)
    world = replace(
        world, organizer_ids={**world.organizer_ids, "invitee": 999_999}, api_token_id=999_999
    )

    problems = []
    for endpoint, method, url, form in _requests(app, world, nowhere):
        if "999999" not in url:
            continue
        for visitor in OUTSIDERS:
            expected = EXPECTED[ACCESS[endpoint]][VISITORS.index(visitor)]
            response = _send(clients[visitor], method, url, form)
            if not expected(response):
                problems.append(f"{visitor:>22} {method:4} {url}: {response.status_code}")

    assert problems == [], "\n".join(["", *problems])


def test_a_sign_in_link_opens_only_its_own_kind_of_account(app):
    """A supporter's link is no way into the organizers' pages, nor an organizer's into a
    supporter's page: the two sign-ins share the token table, not the door."""
    world = _seed(app)
    with app.app_context():
        supporter_token = auth_tokens.issue(db.session.get(Supporter, world.supporter_ids[0]))
        organizer = db.session.get(Organizer, world.organizer_ids["organizer"])
        organizer_token = auth_tokens.issue(organizer)
        db.session.commit()
    client = app.test_client()

    assert client.post_form(f"/organizer/login/{supporter_token}").status_code == 410
    assert client.post_form(f"/login/{organizer_token}").status_code == 410

    assert sent_to_organizer_sign_in(client.get("/organizer/second-factor"))
    assert sent_to_supporter_sign_in(client.get("/member"))


def test_a_supporter_sees_their_own_page_and_nobody_elses(app):
    world = _seed(app)
    clients = _visitors(app, world)
    own = {
        "supporter": (world.supporter_emails[0], "€12.34"),
        "other supporter": (world.supporter_emails[1], "€56.78"),
    }

    for visitor, (email, amount) in own.items():
        page = clients[visitor].get("/member")
        body = page.get_data(as_text=True)
        assert page.status_code == 200
        assert email in body and amount in body
        for other, (other_email, other_amount) in own.items():
            if other != visitor:
                assert other_email not in body, f"{visitor} reads {other}'s address"
                assert other_amount not in body, f"{visitor} reads {other}'s pledge"
    for visitor in ("anonymous", "organizer without TOTP", "organizer", "admin"):
        assert sent_to_supporter_sign_in(clients[visitor].get("/member")), visitor

    # The first supporter answers the other's name request: nothing of the other's changes.
    answer = {"pledge": str(world.pledge_ids[1]), "decision": "show"}
    assert clients["supporter"].post_form("/member/public-name", answer).status_code == 303
    with app.app_context():
        ada, ben = (db.session.get(Supporter, id_) for id_ in world.supporter_ids)
        assert ada.public_name is None and ben.public_name is None
        assert db.session.get(Pledge, world.pledge_ids[1]).requested_public_name == "Ben the Giver"


def _organizer_get_urls(app, world: World) -> list[str]:
    urls = [
        url
        for endpoint, method, url, _ in _requests(app, world, world.targets["organizer"])
        if method == "GET" and urlsplit(url).path.startswith("/organizer")
    ]
    kinds = ("contributions", "disbursements", "allocations")
    return urls + [f"/organizer/exports/{kind}.csv" for kind in kinds]


def test_an_organizer_never_reads_an_email_address(app):
    """Supporters' addresses are what the far right would want from a stolen organizer
    account; other organizers' addresses too. An organizer needs neither."""
    world = _seed(app)
    clients = _visitors(app, world)
    addresses = [
        *world.supporter_emails,
        *(email for name, email in world.organizer_emails.items() if name != "organizer"),
    ]

    leaks = []
    for url in _organizer_get_urls(app, world):
        response = clients["organizer"].get(url)
        body = response.get_data(as_text=True)
        assert response.status_code < 500, url
        leaks += [f"{url}: {address}" for address in addresses if address in body]

    assert leaks == []


def test_an_admin_reads_the_addresses_they_need(app):
    """The admin's export is how the fund writes to its supporters by hand, and the team page
    is how an admin knows whom they invited."""
    world = _seed(app)
    clients = _visitors(app, world)

    export = clients["admin"].get("/organizer/exports/contributions.csv").get_data(as_text=True)
    team = clients["admin"].get("/organizer/team").get_data(as_text=True)

    assert all(email in export for email in world.supporter_emails)
    assert all(email in team for email in world.organizer_emails.values())
    with app.app_context():  # the export is on record, with emails
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.detail) == ("export", "with emails")
        assert entry.organizer_id == world.organizer_ids["admin"]


def test_development_stand_ins_are_gone_outside_development(app):
    """/dev/mail shows every email sent, sign-in links included: it answers in development
    only. (The demo checkout needs demo payments, which production refuses to start with.)"""
    assert app.test_client().get("/dev/mail").status_code == 200
    app.config["PLEDGES_ENV"] = "production"

    for url in ("/dev/mail", "/dev/mail/some-message"):
        assert app.test_client().get(url).status_code == 404, url


def test_an_organizer_session_ends_with_the_organizer(app):
    """Not a route but the guard: a removed organizer's open session opens nothing."""
    with app.app_context():
        admin_id = make_organizer("admin").id
        removed_id = make_organizer().id
    admin, removed = app.test_client(), app.test_client()
    sign_in(app, admin, admin_id)
    sign_in(app, removed, removed_id)
    assert removed.get("/organizer/cases").status_code == 200

    assert admin.post_form(f"/organizer/team/{removed_id}/remove").status_code == 303

    assert sent_to_organizer_sign_in(removed.get("/organizer/cases"))
    with app.app_context():
        assert db.session.get(Organizer, removed_id).removed_at is not None
