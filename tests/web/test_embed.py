"""The pledge widget (/embed/pledge): the fund's figures in a frame on its own site, framed only
by the origins it names, with no cookie, no script and nobody's name."""

import re

import pytest

from pledges import config as settings
from pledges.config import ConfigError
from pledges.models import PledgeStatus
from tests.factories import make_pledge, make_supporter
from tests.organizer.signing_in import sign_in_supporter

FUND_SITES = ["https://fund.example.org", "http://localhost:8080"]


def frame_ancestors(response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["Content-Security-Policy"])[1]


@pytest.fixture
def config(config):
    return {**config, "EMBED_ALLOWED_ORIGINS": FUND_SITES, "FUND_MONTHLY_GOAL": 100_00}


def test_the_widget_shows_the_funds_figures_and_nobody_in_particular(app, client):
    with app.app_context():
        named = make_supporter("rosa@example.org", public_name="Rosa")
        make_pledge(named, amount=15_00)
        make_pledge(named, amount=5_00)
        make_pledge(amount=10_00)
        make_pledge(amount=99_00, status=PledgeStatus.PENDING)

    page = client.get("/embed/pledge").get_data(as_text=True)

    assert "Test Solidarity Fund" in page
    assert "<strong>€30.00</strong> pledged every month" in page  # active pledges only
    assert "by fewer than 3 supporters" in page  # two could be pointed at
    assert "Monthly goal: €100.00" in page
    assert '<progress value="3000" max="10000"></progress>' in page
    assert "Rosa" not in page and "@example.org" not in page


def test_the_bar_stops_full_when_the_goal_is_passed(app, client):
    with app.app_context():
        make_pledge(amount=150_00)

    page = client.get("/embed/pledge").get_data(as_text=True)

    assert "<strong>€150.00</strong>" in page
    assert '<progress value="10000" max="10000"></progress>' in page


def test_without_a_goal_there_is_no_bar(config, make_app):
    client = make_app({**config, "FUND_MONTHLY_GOAL": 0}).test_client()

    page = client.get("/embed/pledge").get_data(as_text=True)

    assert "<progress" not in page and "goal" not in page
    assert "by fewer than 3 supporters" in page


def test_the_button_opens_the_pledge_form_in_a_new_tab(client):
    page = client.get("/embed/pledge").get_data(as_text=True)

    button = re.search(r'<a class="widget-button"([^>]*)>Pledge monthly', page)
    assert button, page
    assert 'href="http://pledges.test/pledge"' in button[1]  # from BASE_URL, never the Host
    assert 'target="_blank"' in button[1] and 'rel="noopener"' in button[1]


def test_only_the_named_origins_may_frame_the_widget(client):
    response = client.get("/embed/pledge")

    assert frame_ancestors(response) == "https://fund.example.org http://localhost:8080"
    # X-Frame-Options can name no list; a browser that knows frame-ancestors ignores it anyway.
    assert "X-Frame-Options" not in response.headers


def test_every_other_page_still_refuses_every_frame(app, client):
    with app.app_context():
        make_pledge()
    for path in ("/", "/pledge", "/login", "/member", "/organizer/login", "/nowhere", "/embed/"):
        response = client.get(path)
        assert frame_ancestors(response) == "'none'", path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_by_default_nobody_may_frame_the_widget(config, make_app):
    client = make_app({**config, "EMBED_ALLOWED_ORIGINS": []}).test_client()

    response = client.get("/embed/pledge")

    assert response.status_code == 200
    assert frame_ancestors(response) == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_widget_sets_no_cookie_and_may_be_cached_by_anyone(client):
    response = client.get("/embed/pledge")

    assert "Set-Cookie" not in response.headers
    assert client.get_cookie("session") is None
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Accept-Language" in response.headers["Vary"]


def test_a_signed_in_supporter_gets_the_same_anonymous_widget(app, client):
    """The widget shows on the fund's site to whoever comes by; a supporter who is signed in
    sends their cookie along when both sites are one site, and it is neither read nor renewed."""
    with app.app_context():
        supporter = make_supporter("ada@example.org", public_name="Ada")
        make_pledge(supporter, amount=12_34)
        supporter_id = supporter.id
    sign_in_supporter(app, client, supporter_id)
    session_before = client.get_cookie("session").value

    response = client.get("/embed/pledge")
    page = response.get_data(as_text=True)

    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers["Vary"]  # a cache may give it to anyone
    assert client.get_cookie("session").value == session_before
    assert "Ada" not in page and "ada@example.org" not in page and "Sign out" not in page
    assert client.get("/member").status_code == 200  # still signed in on the fund's pages


def test_the_widget_has_no_script_no_form_no_token_and_nothing_from_elsewhere(client):
    page = client.get("/embed/pledge").get_data(as_text=True)

    assert "<script" not in page and "<form" not in page and "csrf" not in page.lower()
    assert "<style" not in page and " style=" not in page
    assert re.search(r'<link rel="stylesheet" href="/static/css/embed.css\?v=\w+">', page)
    assert not re.search(r'src="(https?:)?//', page)


@pytest.mark.parametrize(
    ("query", "theme"),
    [("", "light"), ("?theme=light", "light"), ("?theme=dark", "dark"), ("?theme=neon", "light")],
)
def test_the_theme_comes_from_the_address(client, query, theme):
    page = client.get("/embed/pledge" + query).get_data(as_text=True)

    assert f'<html lang="en" class="theme-{theme}">' in page


def test_the_stylesheet_has_both_themes(client):
    response = client.get("/static/css/embed.css")
    css = response.get_data(as_text=True)
    response.close()

    assert ".theme-light {" in css and ".theme-dark {" in css


def test_origins_are_read_from_a_list_in_the_environment():
    environ = {"EMBED_ALLOWED_ORIGINS": " https://Fund.Example.org/, http://localhost:8080  "}

    config = settings.from_environment(environ, "/nonexistent")

    assert config["EMBED_ALLOWED_ORIGINS"] == FUND_SITES
    assert settings.from_environment({}, "/nonexistent")["EMBED_ALLOWED_ORIGINS"] == []
    assert settings.from_environment({}, "/nonexistent")["FUND_MONTHLY_GOAL"] == 0


@pytest.mark.parametrize(
    "origins",
    [
        "https://fund.example.org/donate",
        "fund.example.org",
        "*",
        "https://*",
        "'self'",
        "'none'",
        "https:",
        "ftp://fund.example.org",
        "https://fund.example.org:99999",
        "https://user@fund.example.org",
        "https://fund.example.org?x=1",
        # One origin too many would hand the page to anyone: the header cannot be widened.
        "https://fund.example.org; script-src *",
        "https://fund.example.org,javascript:alert(1)",
    ],
)
def test_a_bad_origin_stops_the_app_and_says_which(config, make_app, origins):
    environ = {"EMBED_ALLOWED_ORIGINS": origins}
    listed = settings.from_environment(environ, "/nonexistent")["EMBED_ALLOWED_ORIGINS"]

    with pytest.raises(ConfigError, match="EMBED_ALLOWED_ORIGINS: .* is not an origin"):
        make_app({**config, "EMBED_ALLOWED_ORIGINS": listed})


def test_wildcard_subdomains_and_ports_are_origins(config, make_app):
    origins = ["https://*.example.org", "http://127.0.0.1:8000", "https://xn--frde-gra.example"]
    client = make_app({**config, "EMBED_ALLOWED_ORIGINS": origins}).test_client()

    assert frame_ancestors(client.get("/embed/pledge")) == " ".join(origins)


@pytest.mark.parametrize("goal", ["50.00", "-100", "lots"])
def test_a_goal_is_a_whole_number_of_cents(goal):
    with pytest.raises(ConfigError, match="FUND_MONTHLY_GOAL"):
        settings.from_environment({"FUND_MONTHLY_GOAL": goal}, "/nonexistent")
