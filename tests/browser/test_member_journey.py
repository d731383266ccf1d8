"""A supporter manages their own pledge in Chromium: change the amount, pause, resume, cancel,
restart. With script each change swaps the pledge's card in place (the page is never
reloaded); without script every form posts and the page comes back saying what changed."""

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from pledges.extensions import db
from pledges.models import Supporter
from pledges.models.types import utcnow
from pledges.services import auth_tokens, mail_outbox
from tests.browser.conftest import recording_tab
from tests.factories import make_pledge, make_supporter


@pytest.fixture
def sign_in_link(app, live_server) -> str:
    with app.app_context():
        supporter = make_supporter("phone@example.org")
        make_pledge(supporter, amount=10_00, next_charge_at=utcnow() + timedelta(days=9))
        token = auth_tokens.issue(db.session.get(Supporter, supporter.id))
        db.session.commit()
    return f"{live_server}/login/{token}"


def _journey(page: Page, live_server: str, sign_in_link: str, *, script: bool) -> None:
    page.goto(sign_in_link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/member")
    card = page.locator("article.pledge")
    if script:
        page.evaluate("window.notReloaded = true")

    page.get_by_text("Change the amount", exact=True).first.click()
    page.get_by_label("New monthly amount").fill("12.50")
    card.get_by_role("button", name="Change the amount").click()
    expect(card.get_by_role("heading")).to_have_text("€12.50 a month")
    expect(card.locator(".next-charge")).to_contain_text("Next charge: €12.50 on")

    page.get_by_text("Pause", exact=True).click()
    page.get_by_label("two months").check()
    card.get_by_role("button", name="Pause my pledge").click()
    expect(card.locator(".status")).to_have_text("Paused")
    expect(card.locator(".next-charge")).to_contain_text("Paused: nothing is charged until")

    card.get_by_role("button", name="Resume now").click()
    expect(card.locator(".status")).to_have_text("Active")

    page.get_by_text("Cancel my pledge", exact=True).click()
    page.get_by_label("Why? (optional, a few words)").fill("money is tight")
    card.get_by_role("button", name="Yes, cancel my pledge").click()
    expect(card.locator(".next-charge")).to_contain_text("Canceled: nothing more is charged.")
    expect(card.locator(".status")).to_have_text("Ending")

    card.get_by_role("button", name="Restart my pledge of €12.50 a month").click()
    expect(card.locator(".next-charge")).to_contain_text("Next charge: €12.50 on")
    expect(card.locator(".status")).to_have_text("Active")

    if script:
        assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    else:
        expect(page.locator(".flash")).to_have_text(
            "Your pledge continues: the cancellation is undone."
        )
    assert [url for url in page.requested_urls if not url.startswith(live_server)] == []
    assert page.console_errors == []


def test_with_script_each_change_swaps_in_place(app, live_server, page, sign_in_link):
    _journey(page, live_server, sign_in_link, script=True)
    with app.app_context():
        assert mail_outbox.deliver_due().sent == 5  # one confirmation per change


def test_without_script_every_change_still_works(app, live_server, browser, sign_in_link):
    tab = recording_tab(browser, java_script_enabled=False)
    try:
        _journey(tab, live_server, sign_in_link, script=False)
    finally:
        tab.context.close()


def test_back_after_signing_out_shows_no_member_page(page, live_server, sign_in_link):
    """Found by review: htmx kept a copy of each boosted page in the tab's storage, and Back
    after signing out showed the supporter's address and pledge without asking the server:
    the next person at a shared computer read it."""
    page.goto(sign_in_link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/member")
    page.get_by_role("link", name="Pledge", exact=True).click()
    expect(page).to_have_url(live_server + "/pledge")
    page.get_by_role("link", name="Your pledge").click()
    expect(page).to_have_url(live_server + "/member")
    page.get_by_role("button", name="Sign out").first.click()
    expect(page).to_have_url(live_server + "/")

    page.go_back()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert "phone@example.org" not in page.locator("body").inner_text()
    assert page.evaluate("sessionStorage.getItem('htmx-history-cache')") in (None, "[]")


def test_the_language_switcher_after_a_form_answered_in_place_stays_on_the_page(
    page, live_server, sign_in_link
):
    """Found by review: the form's errors came in place and the address stayed /member, but the
    switcher went back to the form's action, which takes only posts (405)."""
    page.goto(sign_in_link)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/member")
    page.get_by_text("Show a name publicly").click()
    page.get_by_role("button", name="Show this name").click()
    expect(page.get_by_text("Enter the name to show.").first).to_be_visible()

    page.get_by_role("button", name="Deutsch").click()

    expect(page).to_have_url(live_server + "/member")
    expect(page.get_by_role("heading", name="Deine Spende")).to_be_visible()
