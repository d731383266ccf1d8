"""The pages a tester found too wide for a 390 px phone, laid out by a real Chromium: amounts
whole, every column on the screen, nothing scrolling sideways, in every language."""

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect

from pledges.extensions import db
from pledges.models import Organizer, Supporter
from pledges.services import auth_tokens, disbursements, ledger
from tests.factories import (
    make_case,
    make_contribution,
    make_organizer,
    make_pledge,
    make_supporter,
    totp_code,
)

PHONE = 390
THIS_YEAR = datetime.now(UTC).year


@pytest.fixture
def books(app) -> dict:
    """An admin, and a supporter who gave in euros and dollars, one payment partly refunded;
    a case paid more than its pool holds, so part came from other income."""
    with app.app_context():
        admin = make_organizer("admin")
        supporter = make_supporter("phone@example.org")
        case = make_case(title="Legal defence after the attack at the book fair")
        in_euros = make_pledge(supporter, amount=123_456_78, case=case)
        first = make_contribution(
            in_euros, gross=123_456_78, fee=1_23, paid_at=datetime(THIS_YEAR, 1, 2, tzinfo=UTC)
        )
        ledger.take_back(first, refunded=4_00)
        make_contribution(
            make_pledge(supporter, currency="USD", amount=12_00),
            gross=10_00,
            paid=12_00,
            paid_at=datetime(THIS_YEAR, 1, 3, tzinfo=UTC),
        )
        disbursements.record(case, 200_000_00, date.today(), "Invoice 114", by=admin)
        db.session.commit()
        return {"admin": admin.id, "supporter": supporter.id}


def _follow(app, page: Page, live_server: str, kind: type, account_id: int, prefix: str) -> None:
    with app.app_context():
        token = auth_tokens.issue(db.session.get(kind, account_id))
        db.session.commit()
    page.goto(f"{live_server}{prefix}/{token}")


def _sign_in_admin(app, page: Page, live_server: str, admin_id: int) -> None:
    _follow(app, page, live_server, Organizer, admin_id, "/organizer/login")
    page.get_by_role("button", name="Continue").click()
    with app.app_context():
        code = totp_code(db.session.get(Organizer, admin_id))
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/organizer/")


def _page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def _right_edge(page: Page, selector: str) -> float:
    return page.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().right")


def test_organizer_pages_fit_a_phone(app, live_server, page, books):
    _sign_in_admin(app, page, live_server, books["admin"])

    # The dashboard: each figure on one line, whole.
    figures = page.locator(".dashboard-figures .figure")
    expect(figures.first).to_contain_text("€")
    for figure in figures.all():
        lines = figure.evaluate(
            "el => el.getBoundingClientRect().height / parseFloat(getComputedStyle(el).lineHeight)"
        )
        assert lines < 1.5, figure.inner_text()
        assert figure.evaluate("el => el.scrollWidth <= el.clientWidth"), figure.inner_text()
    # The chart's month labels as readable as the text around them, the chart scrolling in its
    # own frame (found trying it out: shrunk to fit, they were some 5 px high).
    label = page.locator(".chart-label").first
    assert label.evaluate("el => el.getBoundingClientRect().height") >= 11
    assert _page_width(page) <= PHONE

    # Money paid out: where it came from, and the way to reverse it, on the screen.
    page.goto(live_server + "/organizer/disbursements")
    reverse = page.get_by_role("link", name="Reverse the payment of")
    other_income = page.get_by_text("from other income")
    for thing in (reverse, other_income):
        box = thing.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE
    assert _page_width(page) <= PHONE

    # The audit log: no wider than the phone.
    page.goto(live_server + "/organizer/audit")
    expect(page.get_by_text("Recorded a payment")).to_be_visible()
    assert _right_edge(page, "table.audit") <= PHONE
    assert _page_width(page) <= PHONE


def test_the_yearly_statement_fits_a_phone_in_every_language(app, live_server, page, books):
    _follow(app, page, live_server, Supporter, books["supporter"], "/login")
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(live_server + "/member")

    page.goto(f"{live_server}/member/statement/{THIS_YEAR}")
    for language in ("English", "Deutsch", "Українська", "Русский"):
        button = page.get_by_role("button", name=language)
        if button.is_enabled():
            button.click()
        expect(page.get_by_role("button", name=language)).to_have_attribute("aria-pressed", "true")
        assert _page_width(page) <= PHONE, language
        assert _right_edge(page, "table.statement") <= _right_edge(page, "article"), language

    # Printed on A4 (about 718 px between the margins) it is a table, inside its card.
    page.set_viewport_size({"width": 718, "height": 1000})
    page.emulate_media(media="print")
    expect(page.locator("table.statement thead")).to_be_visible()
    assert _right_edge(page, "table.statement") <= _right_edge(page, "article")
