"""The fund's public figures are kept a few seconds per process (PUBLIC_CACHE_SECONDS): the
sums over every pledge run once for many visitors, and come back fresh after."""

import pytest

from pledges.models import PledgeStatus
from pledges.services import public_cache
from tests.factories import make_case, make_pledge


@pytest.fixture
def config(config):
    return {**config, "PUBLIC_CACHE_SECONDS": 30}


def test_the_figures_are_kept_for_a_while_then_worked_out_again(app, client, monkeypatch):
    with app.app_context():
        for _ in range(3):
            make_pledge(amount=10_00, status=PledgeStatus.ACTIVE)
    assert "€30.00" in client.get("/").get_data(as_text=True)

    with app.app_context():
        make_pledge(amount=5_00, status=PledgeStatus.ACTIVE)
    assert "€30.00" in client.get("/").get_data(as_text=True)  # kept

    clock = public_cache.time.monotonic() + 31
    monkeypatch.setattr(public_cache.time, "monotonic", lambda: clock)
    assert "€35.00" in client.get("/").get_data(as_text=True)  # fresh again


def test_each_app_keeps_its_own(app, make_app, config):
    with app.app_context():
        make_pledge(amount=10_00, status=PledgeStatus.ACTIVE)
    assert "€10.00" in app.test_client().get("/").get_data(as_text=True)
    other = make_app({**config, "FUND_NAME": "Another Fund"})
    with other.app_context():
        make_pledge(amount=7_00, status=PledgeStatus.ACTIVE)
    assert "€17.00" in other.test_client().get("/").get_data(as_text=True)


def test_the_fund_page_shows_the_first_cases_and_links_to_all(app, client):
    with app.app_context():
        for number in range(14):
            make_case(title=f"Case number {number:02d}")
    page = client.get("/").get_data(as_text=True)
    assert "Case number 11" in page and "Case number 12" not in page
    assert "All 14 open cases" in page
    listing = client.get("/cases").get_data(as_text=True)
    assert all(f"Case number {number:02d}" in listing for number in range(14))


def test_the_fund_page_is_kept_per_language_and_the_page_around_it_per_visitor(app, client):
    with app.app_context():
        make_case(title="Medication in exile")
    english = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    german = client.get("/", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "pledged every month" in english and "pledged every month" not in german
    other = app.test_client().get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    token = 'name="csrf_token" value="'
    assert english.split(token)[1][:20] != other.split(token)[1][:20]  # each visitor's own


def test_the_fund_page_is_made_once_for_visitors_not_signed_in_each_with_their_own_token(
    app, make_app, config
):
    import re

    first, second = app.test_client(), app.test_client()
    pages = [client.get("/").get_data(as_text=True) for client in (first, second)]
    tokens = [set(re.findall(r'name="csrf_token" value="([^"]+)"', page)) for page in pages]
    assert all(len(found) == 1 for found in tokens)  # the page's token is the visitor's own
    assert tokens[0] != tokens[1]
    assert "csrf-token-" not in pages[0] + pages[1]  # the placeholder never leaves
    assert pages[0].replace(next(iter(tokens[0])), "") == pages[1].replace(
        next(iter(tokens[1])), ""
    )
    # Each visitor's token is good for their own session: switching language works.
    answer = first.post("/language", data={"locale": "de", "next": "/",
                                           "csrf_token": next(iter(tokens[0]))})  # fmt: skip
    assert answer.status_code in (302, 303)
    refused = second.post("/language", data={"locale": "de", "next": "/",
                                             "csrf_token": next(iter(tokens[0]))})  # fmt: skip
    assert refused.status_code == 400
    assert 'lang="de"' in first.get("/").get_data(as_text=True)


def test_a_signed_in_supporter_gets_the_page_made_for_them(app, client):
    from tests.factories import make_supporter
    from tests.organizer.signing_in import sign_in_supporter

    assert "Sign in" in app.test_client().get("/").get_data(as_text=True)  # kept for anyone
    with app.app_context():
        supporter_id = make_supporter("reader@example.org").id
    sign_in_supporter(app, client, supporter_id)
    page = client.get("/").get_data(as_text=True)
    assert "Your pledge" in page and "Sign out" in page


def test_a_signed_in_organizers_page_is_never_kept_for_anyone(app, client):
    from tests.factories import make_organizer
    from tests.organizer.signing_in import sign_in

    with app.app_context():
        organizer_id = make_organizer().id
    sign_in(app, client, organizer_id)
    assert "Organizer dashboard" in client.get("/").get_data(as_text=True)
    anyone = app.test_client().get("/").get_data(as_text=True)
    assert "Organizer dashboard" not in anyone and 'href="/login"' in anyone
