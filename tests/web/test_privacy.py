"""A supporter's email choices, their data, and deleting their account."""

import json
from datetime import UTC, date, datetime

from sqlalchemy import JSON, String, Text, select, text

from pledges.extensions import db
from pledges.models import Case, Contribution, OutboxEmail, Pledge, Supporter
from pledges.models.types import EncryptedText
from pledges.services import cases, ledger, mail_outbox, payment_problems
from tests.factories import make_case, make_contribution, make_pledge, make_supporter
from tests.organizer.signing_in import sign_in_supporter

EMAIL, NAME = "erase.me@example.org", "Vera Visible"


def _member(app, client) -> tuple[int, int]:
    with app.app_context():
        supporter = make_supporter(EMAIL, public_name=NAME)
        case = make_case(slug="medics")
        pledge = make_pledge(supporter, case=case, requested_public_name=NAME)
        make_contribution(pledge, gross=30_00)
        ledger.record_disbursement(case, 20_00, date.today())
        db.session.commit()
        ids = supporter.id, case.id
    sign_in_supporter(app, client, ids[0])
    return ids


def test_data_download_holds_everything_about_them(app, client):
    _member(app, client)
    response = client.get("/member/data.json")
    data = json.loads(response.get_data(as_text=True))
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert (data["email"], data["public_name"]) == (EMAIL, NAME)
    assert data["pledges"][0]["earmarked_case"] == "medics"
    assert data["contributions"][0]["gross_minor"] == 30_00


def test_data_download_holds_where_the_pledge_went_before(app, client):
    _member(app, client)
    with app.app_context():
        pledge_id = db.session.scalar(select(Pledge.id))
    client.post_form(f"/member/pledges/{pledge_id}/earmark", {"earmark": ""})

    [pledge] = json.loads(client.get("/member/data.json").get_data(as_text=True))["pledges"]

    assert pledge["earmarked_case"] is None
    [change] = pledge["earmark_changes"]
    assert change["earmarked_case_before"] == "medics"
    assert change["on"].startswith(datetime.now(UTC).date().isoformat())


def test_who_turns_case_news_off_is_not_emailed(app, client):
    supporter_id, case_id = _member(app, client)
    assert client.post_form("/member/preferences", {"wants_digest": "on"}).status_code == 303
    with app.app_context():
        supporter = db.session.get(Supporter, supporter_id)
        assert (supporter.wants_reminders, supporter.wants_digest, supporter.wants_updates) == (
            False,
            True,
            False,
        )
        update = cases.post_update(
            db.session.get(Case, case_id), "Done", "All bought.", notify=True, by=None
        )
        db.session.commit()
        assert update.notified_at is not None
        assert (
            db.session.scalar(select(OutboxEmail).where(OutboxEmail.kind == "case-update")) is None
        )


def _text_columns_containing(needles: list[str]) -> list[str]:
    """Every text or JSON column of every table, searched as stored and as the app reads it."""
    found = []
    for table in db.metadata.sorted_tables:
        columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)] + [
            c for c in table.columns if isinstance(c.type, EncryptedText)
        ]
        for column in columns:
            raw = db.session.execute(
                text(f'SELECT CAST("{column.name}" AS TEXT) FROM "{table.name}"')  # noqa: S608
            ).scalars()
            read = db.session.execute(select(column)).scalars()
            for value in [*raw, *read]:
                if not isinstance(value, str):
                    value = json.dumps(value, ensure_ascii=False)
                if any(n.lower() in value.lower() for n in needles):
                    found.append(f"{table.name}.{column.name}")
    return found


def test_a_dump_holds_no_link_to_the_provider_s_pages_that_name_the_donor(app):
    """Found by review: Stripe's receipt and invoice pages name the donor, one click per row
    of a stolen dump, whatever the encryption of their email."""
    receipt = "https://pay.stripe.com/receipts/acct_1/ch_1/rcpt_donor"
    invoice = "https://invoice.stripe.com/i/acct_1/test_donor"
    with app.app_context():
        pledge = make_pledge(make_supporter(EMAIL))
        make_contribution(pledge, receipt_url=receipt)
        payment_problems.record(pledge, invoice_id="in_1", kind="failed", amount=10_00,
                                hosted_url=invoice, at=datetime.now(UTC))  # fmt: skip
        db.session.commit()
        stored = [
            *db.session.scalars(text("SELECT receipt_url FROM contributions")),
            *db.session.scalars(text("SELECT hosted_url FROM payment_problems")),
        ]
        assert not any("stripe.com" in value for value in stored)
        assert db.session.scalar(select(Contribution.receipt_url)) == receipt  # read as written
        # One written in clear by a worker still on the old code while 0022 ran reads as is.
        db.session.execute(text("UPDATE contributions SET receipt_url = :r"), {"r": receipt})
        db.session.commit()
        assert db.session.scalar(select(Contribution.receipt_url)) == receipt


def test_deleting_the_account_leaves_no_email_or_name_and_the_books_still_add_up(app, client, smtp):
    supporter_id, _ = _member(app, client)
    # Anonymous again, then named: each change is confirmed by an email, which must not keep it.
    for change in ({"action": "remove"}, {"action": "set", "name": NAME}):
        assert client.post_form("/member/name", change).status_code == 303
    with app.app_context():
        mail_outbox.deliver_due()
        mail_outbox.enqueue("sign-in", recipient=EMAIL, dedupe_key="sign-in:queued")
        refused = mail_outbox.enqueue("sign-in", recipient=EMAIL, dedupe_key="sign-in:refused")
        refused.status, refused.last_error = "failed", f"{{'{EMAIL}': (550, b'no such user')}}"
        db.session.scalar(select(Contribution)).receipt_url = "https://pay.stripe.com/receipts/x"
        db.session.commit()
        # The search finds them before: supporters, pledges and the outbox hold them.
        assert {
            "supporters.email",
            "supporters.public_name",
            "outbox_emails.recipient",
            "outbox_emails.last_error",
        } <= set(_text_columns_containing([EMAIL, NAME]))

    unconfirmed = client.post_form("/member/delete", {})
    assert unconfirmed.status_code == 303
    with app.app_context():
        assert db.session.get(Supporter, supporter_id).erased_at is None

    response = client.post_form("/member/delete", {"confirm": "yes"}, follow_redirects=True)
    assert "Your account is deleted" in response.get_data(as_text=True)
    assert client.get("/member").status_code == 302

    with app.app_context():
        assert _text_columns_containing([EMAIL, "erase.me", NAME]) == []
        supporter = db.session.get(Supporter, supporter_id)
        assert supporter.erased_at is not None
        assert db.session.scalar(select(Pledge)).status == "canceled"
        assert db.session.scalar(select(Contribution)).supporter_id == supporter_id
        assert db.session.scalar(select(Contribution)).receipt_url is None
        assert ledger.check() == []
        assert mail_outbox.deliver_due().sent == 0
    # The address is free to give again, as a new supporter.
    again = app.test_client().post_form("/login", {"email": EMAIL})
    assert again.status_code == 200


def test_a_supporter_chooses_and_removes_their_public_name(app, client, smtp):
    supporter_id, _ = _member(app, client)
    assert client.post_form("/member/name", {"action": "remove"}).status_code == 303
    with app.app_context():
        assert db.session.get(Supporter, supporter_id).public_name is None
    empty = client.post_form("/member/name", {"action": "set", "name": "  "})
    assert empty.status_code == 422 and 'id="name-error"' in empty.get_data(as_text=True)
    assert client.post_form("/member/name", {"action": "set", "name": " Vera "}).status_code == 303
    with app.app_context():
        assert db.session.get(Supporter, supporter_id).public_name == "Vera"
        assert mail_outbox.deliver_due().sent == 2  # removed, then shown: each confirmed
    bodies = [m.get_body(("plain",)).get_content() for m in smtp.messages]
    assert any("no longer shown anywhere" in body for body in bodies)
    assert any("shown as “Vera”" in body for body in bodies)


def test_a_name_refused_from_a_tab_opened_while_anonymous_says_why(app, client):
    """The name is shown already (chosen in another tab); an empty one from the old tab is
    refused, and the page says so although it no longer shows the form."""
    _member(app, client)
    assert client.post_form("/member/name", {"action": "set", "name": "Vera"}).status_code == 303
    stale = client.post_form("/member/name", {"action": "set", "name": "  "})
    page = stale.get_data(as_text=True)
    assert stale.status_code == 422
    assert "Enter the name to show." in page and "Stop showing my name" in page


def test_a_name_taken_back_leaves_the_case_page_at_once_though_its_figures_are_kept(
    config, make_app
):
    """Found by review: the case page's figures, kept 30 s for every visitor, kept the names
    too, while the supporter was told no name is shown anywhere."""
    app = make_app({**config, "PUBLIC_CACHE_SECONDS": 30})  # production's default
    client, visitor = app.test_client(), app.test_client()
    _member(app, client)
    assert NAME in visitor.get("/cases/medics").get_data(as_text=True)

    client.post_form("/member/name", {"action": "remove"})

    page = visitor.get("/cases/medics").get_data(as_text=True)
    assert NAME not in page
    assert "Paid from the pledges of" in page  # the figures themselves may wait
