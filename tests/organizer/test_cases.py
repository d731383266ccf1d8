"""Cases and outcome updates from the organizers' pages."""

import re
from datetime import date

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import AuditEntry, Case, CaseUpdate, OutboxEmail
from pledges.services import ledger, mail_outbox
from tests.factories import make_case, make_contribution, make_pledge, make_supporter

STORY = (
    "She needs **insulin**.\n\n<script>alert(1)</script>\n\n"
    "![tracker](https://evil.example/pixel.png) [docs](javascript:alert(1)) "
    '<img src=x onerror="alert(1)">'
)


def test_a_case_is_written_previewed_and_kept_a_draft_until_published(app, organizer_client):
    client = organizer_client
    form = {"title": "Insulin for Ö.", "summary": "Monthly insulin.", "story": STORY, "goal": ""}

    preview = client.post_form("/organizer/cases/new", {**form, "action": "preview"}, htmx=True)
    assert preview.status_code == 200
    rendered = re.search(
        r'<article class="preview"[^>]*>(.*?)</article>', preview.get_data(as_text=True), re.S
    )[1]
    assert "<strong>insulin</strong>" in rendered
    # Raw HTML stays visible text; no tag, remote image or script link is made of it.
    assert "<script" not in rendered and "<img" not in rendered
    assert "evil.example" not in rendered and 'href="javascript' not in rendered
    with app.app_context():
        assert db.session.scalar(select(Case)) is None  # a preview saves nothing

    saved = client.post_form("/organizer/cases/new", {**form, "action": "save"})
    assert saved.status_code == 303
    told = client.get(saved.location).get_data(as_text=True)
    assert "The case is saved as a draft: only organizers see it" in told
    with app.app_context():
        case = db.session.scalar(select(Case))
        assert (case.slug, case.status, case.story) == ("insulin-for-o", "draft", STORY)
        case_id = case.id

    anonymous = app.test_client()
    assert anonymous.get("/cases/insulin-for-o").status_code == 404
    assert "Insulin for" not in anonymous.get("/").get_data(as_text=True)

    published = client.post_form(
        f"/organizer/cases/{case_id}/status", {"status": "open"}, htmx=True
    )
    assert published.status_code == 200
    assert 'class="status status-open"' in published.get_data(as_text=True)
    public = anonymous.get("/cases/insulin-for-o").get_data(as_text=True)
    assert "<strong>insulin</strong>" in public
    assert "evil.example" not in public and 'href="javascript' not in public
    assert "<img" not in public and "<script>alert" not in public

    # A published case does not go back to draft.
    back = client.post_form(f"/organizer/cases/{case_id}/status", {"status": "draft"}, htmx=True)
    assert back.status_code == 409
    with app.app_context():
        assert db.session.get(Case, case_id).status == "open"
        assert db.session.scalars(select(AuditEntry.action)).all()[-2:] == [
            "case.create",
            "case.status",
        ]


def test_mistakes_come_back_beside_their_fields_and_nothing_is_saved(app, organizer_client):
    response = organizer_client.post_form(
        "/organizer/cases/new",
        {"title": " ", "summary": "", "goal": "12,345.6.7", "action": "save"},
        htmx=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="title-error"' in html and "Give the case a title." in html
    assert 'id="summary-error"' in html
    assert 'id="goal-error"' in html and "Enter an amount like 450" in html
    with app.app_context():
        assert db.session.scalar(select(Case)) is None


def test_editing_keeps_the_address(app, organizer_client):
    with app.app_context():
        case_id = make_case(title="Old title", slug="old-title").id
    response = organizer_client.post_form(
        f"/organizer/cases/{case_id}/edit",
        {"title": "New title", "summary": "s", "story": "", "goal": "4500", "action": "save"},
    )
    assert response.status_code == 303
    with app.app_context():
        case = db.session.get(Case, case_id)
        assert (case.title, case.slug, case.goal) == ("New title", "old-title", 4500_00)


def _funded_case(app) -> tuple[int, list[str]]:
    """A case paid for by one supporter's contribution, earmarked by another, and a third
    supporter who has nothing to do with it."""
    with app.app_context():
        case = make_case()
        funder = make_supporter("funder@example.org")
        earmarker = make_supporter("earmarker@example.org")
        bystander = make_supporter("bystander@example.org")
        make_contribution(make_pledge(funder), gross=50_00)
        make_pledge(earmarker, case=case)
        make_contribution(make_pledge(bystander, case=make_case()), gross=20_00)
        ledger.record_disbursement(case, 30_00, date.today())
        db.session.commit()
        return case.id, ["earmarker@example.org", "funder@example.org"]


def test_an_update_emails_the_cases_supporters_once(app, organizer_client, smtp):
    case_id, audience = _funded_case(app)
    posted = organizer_client.post_form(
        f"/organizer/cases/{case_id}/updates",
        {"title": "The trial is over", "body": "Acquitted. **Thank you.**", "notify": "y",
         "action": "save"},
    )  # fmt: skip
    assert posted.status_code == 303

    with app.app_context():
        update = db.session.scalar(select(CaseUpdate))
        assert update.notified_at is not None
        keys = db.session.scalars(select(OutboxEmail.dedupe_key).order_by(OutboxEmail.id)).all()
        assert len(keys) == 2 and all(key.startswith(f"case-update:{update.id}:") for key in keys)
        update_id = update.id
        assert mail_outbox.deliver_due().sent == 2
    assert sorted(m["To"] for m in smtp.messages) == audience
    funder_mail = next(m for m in smtp.messages if m["To"] == "funder@example.org")
    assert "Your pledge helped pay for" in funder_mail.get_body(("plain",)).get_content()
    assert "<strong>Thank you.</strong>" in funder_mail.get_body(("html",)).get_content()

    # Saving the update again with the box ticked sends nothing more.
    again = organizer_client.post_form(
        f"/organizer/updates/{update_id}/edit",
        {"title": "The trial is over", "body": "Acquitted.", "notify": "y", "action": "save"},
    )
    assert again.status_code == 303
    with app.app_context():
        assert mail_outbox.deliver_due().sent == 0
        assert db.session.scalar(select(CaseUpdate)).body == "Acquitted."
    assert len(smtp.messages) == 2


def test_an_update_without_the_box_ticked_emails_nobody(app, organizer_client):
    case_id, _ = _funded_case(app)
    organizer_client.post_form(
        f"/organizer/cases/{case_id}/updates",
        {"title": "Hearing moved", "body": "To March.", "action": "save"},
    )
    with app.app_context():
        assert db.session.scalar(select(OutboxEmail)) is None
        assert db.session.scalar(select(CaseUpdate)).notified_at is None


def test_without_script_publishing_returns_to_the_case(app, organizer_client):
    with app.app_context():
        case_id = make_case(status="draft").id
    response = organizer_client.post_form(f"/organizer/cases/{case_id}/status", {"status": "open"})
    assert response.status_code == 303
    assert response.location.endswith(f"/organizer/cases/{case_id}")
    impossible = organizer_client.post_form(
        f"/organizer/cases/{case_id}/status", {"status": "draft"}
    )
    assert impossible.status_code == 409
    assert "Already changed" in impossible.get_data(as_text=True)


def test_a_drafts_address_follows_its_title_until_published(app, organizer_client):
    with app.app_context():
        case_id = make_case(title="Bail for Jane Doe", slug="bail-for-jane-doe", status="draft").id
    text = {"summary": "s", "story": "", "goal": "", "action": "save"}
    organizer_client.post_form(f"/organizer/cases/{case_id}/edit", {**text, "title": "Bail for J."})
    with app.app_context():
        assert db.session.get(Case, case_id).slug == "bail-for-j"
    organizer_client.post_form(f"/organizer/cases/{case_id}/status", {"status": "open"})
    organizer_client.post_form(f"/organizer/cases/{case_id}/edit", {**text, "title": "Bail paid"})
    with app.app_context():
        assert db.session.get(Case, case_id).slug == "bail-for-j"


def test_closing_a_case_says_how_many_pledges_still_pay_into_it(app, organizer_client):
    """Found trying it out: a case closed at one click, and nothing said that the pledges
    earmarked for it keep paying into it."""
    with app.app_context():
        case = make_case()
        make_pledge(make_supporter(), case=case)
        make_pledge(make_supporter(), case=case, status="canceled")
        case_id = case.id

    page = organizer_client.get(f"/organizer/cases/{case_id}").get_data(as_text=True)
    listed_open = organizer_client.get("/organizer/cases").get_data(as_text=True)
    closed = organizer_client.post_form(
        f"/organizer/cases/{case_id}/status", {"status": "closed"}, htmx=True
    ).get_data(as_text=True)

    assert "1 monthly pledge is earmarked for this case: closed, it would still pay" in page
    assert "1 monthly pledge is earmarked for this case" in listed_open  # beside its Close
    listed = organizer_client.get("/organizer/cases").get_data(as_text=True)
    assert "1 monthly pledge still pays into this case" in listed
    assert "1 monthly pledge still pays into this case, and only into it" in closed
