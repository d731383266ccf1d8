"""The organizers' whole journey in a real Chromium, on the demo data: the admin signs in with
the emailed link and a code, invites an organizer, who enrols a second factor, writes and
publishes a case, pays money out to it and posts its outcome; a supporter whose money paid for
it sees it on their member page, and gets the news by email once."""

import re
from email.message import EmailMessage

import pyotp
from playwright.sync_api import Page, expect

from pledges.extensions import db
from pledges.services import demo_data, mail_outbox, organizers

SUPPORTER_EMAIL = "supporter@example.org"
NEW_ORGANIZER_EMAIL = "noor.demo@example.org"
NEW_ORGANIZER_NAME = "Noor"
CASE_TITLE = "Safe flat for a threatened activist"
CASE_SLUG = "safe-flat-for-a-threatened-activist"
UPDATE_TITLE = "The keys are handed over"


def deliver(app) -> int:
    """Run the outbox worker once, as cron would; how many emails went out."""
    with app.app_context():
        return mail_outbox.deliver_due().sent


def settled(tab: Page) -> None:
    """htmx wires up what a boosted link brought in a moment after showing it: a person is
    never that quick, a test is."""
    expect(tab.locator("body.htmx-settling")).to_have_count(0)


def stays_on_page(tab: Page) -> None:
    """Mark the page, so that `still_on_page` can tell a swap in place from a page load."""
    tab.evaluate("window.notReloaded = true")


def still_on_page(tab: Page) -> bool:
    return tab.evaluate("window.notReloaded === true")


def mail_to(smtp, address: str, subject: str) -> list[EmailMessage]:
    return [
        message
        for message in smtp.messages
        if message["To"] == address and subject in str(message["Subject"])
    ]


def link_in(message: EmailMessage, prefix: str) -> str:
    text = message.get_body(preferencelist=("plain",)).get_content()
    found = re.search(re.escape(prefix) + r"\S+", text)
    assert found, f"no link starting {prefix} in:\n{text}"
    return found.group(0)


def test_organizers_run_a_case_from_invitation_to_outcome(
    app, live_server, page, open_tab, smtp, monkeypatch
):
    # The story's figures are those of the demo's five paying supporters, to the cent.
    monkeypatch.setattr(demo_data, "TROUBLED", [])
    with app.app_context():
        demo_data.load()
        db.session.commit()
        admin_secret = organizers.find_by_email(demo_data.ORGANIZER_EMAIL).totp_secret
    deliver(app)  # the demo's own mailbox (digests, a failed payment …) is not this story's
    smtp.messages.clear()

    # -- the admin signs in: the emailed link, then the code from the app --------------------
    admin = page
    admin.goto(live_server + "/organizer/login")
    admin.get_by_label("Email").fill(demo_data.ORGANIZER_EMAIL)
    admin.get_by_role("button", name="Email me a sign-in link").click()
    expect(admin.get_by_role("heading", name="Check your email")).to_be_visible()
    assert deliver(app) == 1

    admin.goto(live_server + "/dev/mail")
    admin.get_by_role("link", name="Your organizer sign-in link").click()
    admin.locator(f'a[href^="{live_server}/organizer/login/"]').click()
    expect(admin.get_by_role("heading", name="Sign in as an organizer")).to_be_visible()
    admin.get_by_role("button", name="Continue").click()
    expect(admin.get_by_role("heading", name="One more step")).to_be_visible()
    admin.get_by_label("Code").fill(pyotp.TOTP(admin_secret).now())
    admin.get_by_role("button", name="Sign in").click()
    expect(admin).to_have_url(live_server + "/organizer/")
    expect(admin.get_by_role("heading", name="Dashboard")).to_be_visible()

    # -- the admin invites a new organizer ------------------------------------------------------
    admin.get_by_role("link", name="Organizers", exact=True).click()
    expect(admin).to_have_url(live_server + "/organizer/team")
    admin.get_by_label("Email").fill(NEW_ORGANIZER_EMAIL)
    admin.get_by_label("Name").fill(NEW_ORGANIZER_NAME)
    admin.get_by_label("Role").select_option("organizer")
    admin.get_by_role("button", name="Send the invitation").click()
    invited = admin.get_by_role("row").filter(has_text=NEW_ORGANIZER_EMAIL)
    expect(invited).to_contain_text("invited, not signed in yet")
    assert deliver(app) == 1

    # -- the new organizer follows the invitation and enrols a second factor -------------------
    (invitation,) = mail_to(smtp, NEW_ORGANIZER_EMAIL, "You are invited to help run")
    organizer = open_tab()
    organizer.goto(link_in(invitation, live_server + "/organizer/login/"))
    organizer.get_by_role("button", name="Continue").click()
    expect(organizer.get_by_role("heading", name="Set up your second factor")).to_be_visible()
    # The QR code is drawn on our own page: no QR service learns the secret.
    expect(organizer.locator("figure.qr svg")).to_be_visible()
    expect(organizer.locator("#totp-secret")).to_be_hidden()
    organizer.get_by_text("Cannot scan? Type this key instead").click()
    expect(organizer.locator("#totp-secret")).to_be_visible()
    secret = organizer.locator("#totp-secret").inner_text().strip()
    organizer.get_by_label("Code").fill(pyotp.TOTP(secret).now())
    organizer.get_by_role("button", name="Confirm").click()
    expect(organizer.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(organizer.locator(".recovery-codes li")).to_have_count(10)
    organizer.get_by_role("button", name="I have kept them — continue").click()
    expect(organizer).to_have_url(live_server + "/organizer/")
    expect(organizer.get_by_role("heading", name="Dashboard")).to_be_visible()
    # An organizer, not an admin: no team page, no audit log.
    expect(organizer.get_by_role("link", name="Audit log")).to_have_count(0)

    admin.reload()
    expect(invited).to_contain_text("set up")

    # -- the organizer writes a case, previews it, and saves it as a draft ----------------------
    organizer.goto(live_server + "/organizer/cases/new")
    organizer.get_by_label("Title").fill(CASE_TITLE)
    organizer.get_by_label("Summary").fill("Rent for a flat nobody can find, for an activist.")
    organizer.get_by_label("Story (Markdown)").fill(
        "After her address was posted online, K. needs a **safe flat** for six months.\n\n"
        "- the deposit\n- six months of rent"
    )
    stays_on_page(organizer)
    organizer.get_by_role("button", name="Preview").click()
    preview = organizer.get_by_role("article", name="Preview")
    expect(preview.locator("strong")).to_have_text("safe flat")
    expect(preview.locator("li")).to_have_count(2)
    # In place: the form keeps what was typed, nothing was saved, the address did not change.
    expect(organizer).to_have_url(live_server + "/organizer/cases/new")
    expect(organizer.get_by_label("Title")).to_have_value(CASE_TITLE)
    assert still_on_page(organizer)
    organizer.get_by_role("button", name="Save as draft").click()
    expect(organizer).to_have_url(re.compile(re.escape(live_server) + r"/organizer/cases/\d+$"))
    expect(organizer.get_by_role("heading", name=CASE_TITLE)).to_be_visible()
    organizer.wait_for_load_state()
    status = organizer.locator(".case-status")
    expect(status.locator(".status")).to_have_text("Draft")
    case_page = organizer.url

    visitor = open_tab()
    response = visitor.goto(f"{live_server}/cases/{CASE_SLUG}")
    assert response.status == 404

    # Publishing swaps the status in place.
    stays_on_page(organizer)
    organizer.get_by_role("button", name="Publish").click()
    expect(status.locator(".status")).to_have_text("Open")
    expect(status).not_to_contain_text("Only organizers see drafts.")
    expect(organizer).to_have_url(case_page)
    assert still_on_page(organizer)

    response = visitor.goto(f"{live_server}/cases/{CASE_SLUG}")
    assert response.status == 200
    expect(visitor.get_by_role("heading", name=CASE_TITLE)).to_be_visible()
    expect(visitor.locator("strong", has_text="safe flat")).to_be_visible()

    # -- the organizer pays money out to it, seeing first what the pool holds -----------------
    organizer.get_by_role("link", name="Money paid out").click()
    expect(organizer.locator("#pool")).to_contain_text("Choose a case")
    settled(organizer)
    stays_on_page(organizer)
    organizer.get_by_label("Paid to").select_option(label=CASE_TITLE)
    pool = organizer.locator("#pool")
    # What the demo's general fund has left after its own two payouts.
    expect(pool).to_contain_text(
        f"For “{CASE_TITLE}”, contributions paid by that day still hold €38.28: "
        "€0.00 given for this case and €38.28 in the general fund."
    )
    with organizer.expect_response(lambda response: "amount=10&" in response.url) as checked:
        organizer.get_by_label("Amount").fill("10")
    # Only what the figure needs goes into the address (and the server's logs).
    assert "csrf_token" not in checked.value.url and "note" not in checked.value.url
    expect(pool).to_contain_text("€38.28 in the general fund")
    expect(pool.locator(".warning")).to_have_count(0)
    organizer.get_by_label("Amount").fill("50")
    expect(pool.locator(".warning")).to_contain_text(
        "€11.72 of this payment is more than the pool holds"
    )
    assert still_on_page(organizer)
    organizer.get_by_label("Note for the books").fill("Deposit, landlord's receipt 7")
    organizer.get_by_role("button", name="Record the payment").click()
    expect(organizer.locator(".flash")).to_have_text(
        f"Recorded €50.00 to “{CASE_TITLE}”: €38.28 from supporters, €11.72 from other income."
    )
    expect(organizer).to_have_url(live_server + "/organizer/disbursements")
    expect(organizer.get_by_label("Amount")).to_have_value("")  # a fresh form, not a resend
    paid = organizer.locator("table.disbursements tbody tr").filter(has_text=CASE_TITLE)
    expect(paid).to_have_count(1)
    expect(paid).to_contain_text("€50.00")
    expect(paid).to_contain_text("€38.28 from supporters")
    expect(paid).to_contain_text("€11.72 from other income")
    expect(paid).to_contain_text("Deposit, landlord's receipt 7")

    # -- the supporter whose money paid for it sees it, to the cent ------------------------------
    supporter = open_tab()
    supporter.goto(live_server + "/login")
    supporter.get_by_label("Email").fill(SUPPORTER_EMAIL)
    supporter.get_by_role("button", name="Email me a sign-in link").click()
    expect(supporter.get_by_role("heading", name="Check your email")).to_be_visible()
    assert deliver(app) == 1
    (sign_in,) = mail_to(smtp, SUPPORTER_EMAIL, "Your sign-in link")
    supporter.goto(link_in(sign_in, live_server + "/login/"))
    supporter.get_by_role("button", name="Sign in").click()
    expect(supporter).to_have_url(live_server + "/member")
    where = supporter.locator("#where")
    funded = where.get_by_role("row").filter(has=supporter.get_by_role("link", name=CASE_TITLE))
    # The oldest money still in the fund went first: what was left of their September
    # payment (€3.82) and all of October's (€14.53).
    expect(funded).to_contain_text("€18.35")

    # -- the organizer posts the outcome, and the supporter is told once ---------------------------
    organizer.goto(case_page)
    updates = organizer.locator("#updates")
    updates.get_by_label("Title").fill(UPDATE_TITLE)
    updates.get_by_label("What happened (Markdown)").fill("K. moved in *yesterday*.")
    notify = updates.get_by_label("Email this case's supporters")
    # The three demo supporters whose money is in the payment: one email each.
    expect(updates).to_contain_text("3 supporters funded or chose this case")
    notify.check()
    updates.get_by_role("button", name="Post").click()
    expect(organizer.locator(".flash")).to_have_text("Posted. Supporters were emailed.")
    expect(organizer).to_have_url(case_page)
    posted = updates.get_by_role("article").filter(has_text=UPDATE_TITLE)
    expect(posted).to_contain_text("emailed to supporters on")
    assert deliver(app) == 3
    (news,) = mail_to(smtp, SUPPORTER_EMAIL, CASE_TITLE)
    assert news["Subject"] == f"News from {CASE_TITLE}"
    assert "K. moved in" in news.get_body(preferencelist=("plain",)).get_content()

    # Editing the update afterwards does not email anyone again.
    posted.get_by_role("link", name="Edit").click()
    expect(organizer.get_by_text("they are not emailed again")).to_be_visible()
    organizer.get_by_label("What happened (Markdown)").fill("K. moved in *on Monday*.")
    organizer.get_by_role("button", name="Save").click()
    expect(organizer.locator(".flash")).to_have_text("The update is saved.")
    expect(organizer).to_have_url(case_page)
    assert deliver(app) == 0
    assert len(mail_to(smtp, SUPPORTER_EMAIL, CASE_TITLE)) == 1

    supporter.reload()
    expect(funded).to_contain_text(f"Latest: {UPDATE_TITLE}")

    tabs = {"admin": admin, "organizer": organizer, "visitor": visitor, "supporter": supporter}
    for tab in tabs.values():
        assert [url for url in tab.requested_urls if not url.startswith(live_server)] == []
    # Nothing refused by the Content Security Policy; the one complaint is Chromium noting the
    # 404 of the draft's public page.
    assert {name: tab.console_errors for name, tab in tabs.items()} == {
        "admin": [],
        "organizer": [],
        "visitor": [
            "Failed to load resource: the server responded with a status of 404 (NOT FOUND)"
        ],
        "supporter": [],
    }
