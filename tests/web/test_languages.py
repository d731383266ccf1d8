"""Pages, forms and emails in the reader's language: their stored choice, else what their
browser asks for, else the fund's own; dates and amounts formatted for it."""

import re
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale, gettext
from sqlalchemy import select

from pledges.extensions import db
from pledges.i18n import LANGUAGES
from pledges.models import Contribution, Supporter
from pledges.services import demo_data
from tests.factories import make_contribution, make_pledge, make_supporter
from tests.organizer.signing_in import sign_in_supporter

ROOT = Path(__file__).resolve().parents[2]


def translated(app, locale: str, message: str, **values) -> str:
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values)


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.fixture
def demo(app, runner):
    assert runner.invoke(args=["pledges", "demo"]).exit_code == 0


def test_the_browser_language_is_used_when_nothing_was_chosen(app, client):
    page = client.get("/", headers={"Accept-Language": "uk, en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="uk">' in page
    assert translated(app, "uk", "Pledge") in page
    # A language we have no catalog for falls back to the fund's own.
    page = client.get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_the_fund_default_is_used_for_a_browser_that_asks_for_nothing_we_have(config, make_app):
    app = make_app({**config, "BABEL_DEFAULT_LOCALE": "de"})
    page = app.test_client().get("/", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert '<html lang="de">' in page


def test_the_switcher_stores_the_choice_and_it_beats_the_browser(app, client):
    page = client.get("/").get_data(as_text=True)
    for code, name in (
        ("en", "English"),
        ("de", "Deutsch"),
        ("uk", "Українська"),
        ("ru", "Русский"),
    ):
        assert f'name="locale" value="{code}" lang="{code}"' in page and name in page

    response = client.post_form("/language", {"locale": "ru", "next": "/pledge?currency=EUR"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/pledge?currency=EUR"
    page = client.get("/pledge", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="ru">' in page
    assert translated(app, "ru", "Continue to payment") in page


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil", "x"])
def test_the_switcher_never_sends_the_visitor_to_another_site(client, target):
    response = client.post_form("/language", {"locale": "de", "next": target})
    assert response.headers["Location"] == "/"


def test_the_switcher_never_sends_the_visitor_to_an_address_that_only_takes_forms(client):
    """A page answered to a form posted without script has the form's action for its address."""
    response = client.post_form("/language", {"locale": "de", "next": "/member/give"})
    assert response.headers["Location"] == "/"
    kept = client.post_form("/language", {"locale": "de", "next": "/cases?page=2"})
    assert kept.headers["Location"] == "/cases?page=2"


def test_the_switcher_refuses_a_language_we_do_not_have_and_a_missing_token(client):
    assert client.post_form("/language", {"locale": "fr", "next": "/"}).status_code == 400
    assert client.post("/language", data={"locale": "de", "next": "/"}).status_code == 400


def test_a_signed_in_supporter_s_choice_is_stored_and_their_email_follows_it(app, client, smtp):
    with app.app_context():
        supporter = make_supporter("reader@example.org")
        db.session.commit()
        supporter_id = supporter.id
    sign_in_supporter(app, client, supporter_id)

    client.post_form("/language", {"locale": "uk", "next": "/member"})
    with app.app_context():
        assert db.session.get(Supporter, supporter_id).locale == "uk"
    # Signed out, on another browser: the sign-in link comes in their language all the same.
    other = app.test_client()
    other.post_form("/login", {"email": "reader@example.org"})
    assert other.get("/").headers  # the request went through
    app.test_cli_runner().invoke(args=["pledges", "deliver-mail", "--once"])
    [message] = [m for m in smtp.messages if m["To"] == "reader@example.org"]
    subject = translated(app, "uk", "Your sign-in link for %(fund)s", fund=app.config["FUND_NAME"])
    assert message["Subject"] == subject != "Your sign-in link for " + app.config["FUND_NAME"]


def test_a_new_supporter_keeps_the_language_of_the_form_they_pledged_on(app, client):
    client.post_form("/language", {"locale": "de", "next": "/"})
    client.post_form("/pledge", {"amount": "10", "email": "neu@example.org", "earmark": ""})
    with app.app_context():
        assert db.session.scalar(select(Supporter)).locale == "de"


def test_form_errors_come_in_the_page_language(app, client):
    client.post_form("/language", {"locale": "de", "next": "/"})
    response = client.post_form(
        "/pledge", {"amount": "10", "email": "not an address", "earmark": ""}, htmx=True
    )
    assert response.status_code == 422
    assert translated(app, "de", "Enter a valid email address.") in response.get_data(as_text=True)


def test_amounts_and_dates_are_formatted_for_the_language(app, client):
    with app.app_context():
        supporter = make_supporter("leser@example.org")
        make_contribution(make_pledge(supporter, amount=1234), gross=1234)
        db.session.commit()
        supporter_id = supporter.id
    sign_in_supporter(app, client, supporter_id)
    english = client.get("/member").get_data(as_text=True)
    client.post_form("/language", {"locale": "de", "next": "/"})
    german = client.get("/member").get_data(as_text=True)
    assert "€12.34" in english and "12,34\xa0€" in german
    with app.app_context():
        paid = db.session.scalar(select(Contribution.paid_at))
    assert f"{paid:%d.%m.%Y}" in german and f"{paid:%b} {paid.day}, {paid.year}" in english


def test_a_value_ending_a_sentence_with_its_own_full_stop_gets_no_second(app, client):
    """A Ukrainian date ends in "р.", a name may end in an initial: "р.." and "P.." read as
    typos (found on a phone)."""
    with app.app_context():
        supporter = make_supporter("reader@example.org", public_name="Ana P.", locale="uk")
        make_pledge(supporter, next_charge_at=datetime(2027, 1, 3, 9, tzinfo=UTC))
        supporter_id = supporter.id
    sign_in_supporter(app, client, supporter_id)

    ukrainian = client.get("/member").get_data(as_text=True)
    assert "3 січня 2027\u202fр." in ukrainian and "р.." not in ukrainian
    client.post_form("/language", {"locale": "en", "next": "/"})
    english = client.get("/member").get_data(as_text=True)
    assert "Shown publicly as Ana P." in english and "P.." not in english
    assert "on January 3, 2027." in english  # a sentence still ends where its value does not


def _demo_texts(app) -> set[str]:
    """The demo fund's own texts: stored in the fund's language, like any organizer's."""
    with app.test_request_context(), force_locale("en"):
        specs = [*demo_data.CASES, *demo_data.UPDATES, *demo_data.DISBURSEMENTS]
        values = [v for spec in specs for v in (spec.values() if isinstance(spec, dict) else spec)]
        return {str(value) for value in values if not isinstance(value, int)}


def _english_only(app, locale: str) -> set[str]:
    """Messages of some length whose translation differs from the English: seeing one of them
    on a page in `locale` means something on it was not translated (the demo fund's own texts
    aside: those are in the fund's language)."""
    with open(ROOT / "translations" / locale / "LC_MESSAGES" / "messages.po", "rb") as file:
        catalog = read_po(file, locale=locale)
    return {
        message.id
        for message in catalog
        if isinstance(message.id, str)
        and "%" not in message.id
        and len(message.id) > 24
        and message.string != message.id
    } - _demo_texts(app)


@pytest.mark.parametrize("locale", [code for code in LANGUAGES if code != "en"])
def test_every_public_page_is_in_the_chosen_language(app, client, demo, locale):
    client.post_form("/language", {"locale": locale, "next": "/"})
    english = _english_only(app, locale)
    slug = demo_data.CASES[0]["slug"]
    with app.app_context():
        supporter_id = db.session.scalar(
            select(Supporter.id).where(Supporter.email_index.is_not(None)).limit(1)
        )
    pages = ["/", "/cases", "/pledge", f"/cases/{slug}", "/flyer", "/login"]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        text = visible_text(response.get_data(as_text=True))
        leftovers = [message for message in english if message in text]
        assert not leftovers, f"{path} in {locale} shows English: {leftovers[:3]}"
    # The widget is cached for anyone: it follows the browser's language, not the choice.
    widget = client.get("/embed/pledge", headers={"Accept-Language": locale})
    assert not [m for m in english if m in visible_text(widget.get_data(as_text=True))]
    assert '<html lang="en" ' in client.get("/embed/pledge").get_data(as_text=True)
    sign_in_supporter(app, client, supporter_id)
    client.post_form("/language", {"locale": locale, "next": "/"})
    text = visible_text(client.get("/member").get_data(as_text=True))
    assert not [message for message in english if message in text]


def test_the_demo_fund_s_texts_are_in_the_fund_s_language(config, make_app):
    app = make_app({**config, "BABEL_DEFAULT_LOCALE": "uk"})
    assert app.test_cli_runner().invoke(args=["pledges", "demo"]).exit_code == 0
    title = translated(app, "uk", "Medication for a journalist in exile")
    assert title != "Medication for a journalist in exile"
    page = app.test_client().get("/", headers={"Accept-Language": "uk"}).get_data(as_text=True)
    assert title in page


def test_counts_are_written_as_the_reader_writes_numbers(app):
    from pledges.web.templating import format_number

    written = {}
    for locale in ("en", "de", "ru"):
        with app.test_request_context(), force_locale(locale):
            written[locale] = format_number(12345)
    assert written == {"en": "12,345", "de": "12.345", "ru": "12\xa0345"}
