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
