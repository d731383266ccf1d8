"""The organizers' API: token scopes, the same services and audit log as the pages, problem
details for bad input, and creation that happens once per Idempotency-Key."""

import csv
import io
from datetime import date, timedelta

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import AuditEntry, Case, Disbursement, OrganizerRole
from pledges.services import api_tokens, organizers
from tests.api.conftest import issue_token
from tests.factories import make_contribution, make_organizer, make_pledge, make_supporter

NEW_CASE = {"title": "Rent for K.", "summary": "Six months of a safe flat.", "goal": 1800_00}


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_case_is_written_published_and_told_about(app, client, auth, smtp):
    created = client.post("/api/v1/cases", json=NEW_CASE, headers=auth)
    assert created.status_code == 201
    case = created.json
    assert (case["status"], case["goal"], case["paid_out"]) == ("draft", 1800_00, 0)
    # Links come from BASE_URL, never from the Host header a client chose.
    assert created.headers["Location"] == f"http://pledges.test/api/v1/cases/{case['slug']}"
    assert client.get(f"/api/v1/cases/{case['slug']}").status_code == 404  # a draft

    published = client.patch(f"/api/v1/cases/{case['slug']}", json={"status": "open",
                             "summary": "Six months of a safe flat, from May."}, headers=auth)  # fmt: skip
    assert published.status_code == 200
    assert published.json["status"] == "open"
    assert client.get(f"/api/v1/cases/{case['slug']}").json["summary"].endswith("from May.")
    back = client.patch(f"/api/v1/cases/{case['slug']}", json={"status": "draft"}, headers=auth)
    assert back.status_code == 422  # a published case never returns to draft
    blank = client.patch(f"/api/v1/cases/{case['slug']}", json={"title": "  "}, headers=auth)
    assert blank.status_code == 422 and blank.json["errors"][0]["field"] == "title"

    with app.app_context():
        make_contribution(make_pledge(make_supporter("giver@example.org"),
                                      case=db.session.scalar(select(Case))), gross=30_00)  # fmt: skip
        db.session.commit()
    posted = client.post(f"/api/v1/cases/{case['slug']}/updates",
                         json={"title": "Keys handed over", "body": "K. *moved in*.",
                               "notify": True}, headers=auth)  # fmt: skip
    assert posted.status_code == 201
    assert posted.json["emailed"] is True and "<em>moved in</em>" in posted.json["body_html"]
    with app.app_context():
        from pledges.services import mail_outbox

        mail_outbox.deliver_due()
        actions = [(entry.action, entry.api_token_id is not None)
                   for entry in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]  # fmt: skip
    assert [m["To"] for m in smtp.messages] == ["giver@example.org"]
    # Every action is in the audit log, naming the token it came by.
    assert ("case.create", True) in actions and ("case.status", True) in actions
    assert ("update.post", True) in actions and ("update.notify", True) in actions


def test_bad_input_is_named_field_by_field_and_nothing_is_written(app, client, auth):
    answer = client.post("/api/v1/cases", json={"title": "", "goal": -5, "colour": "red"},
                         headers=auth)  # fmt: skip
    assert answer.status_code == 422
    assert answer.content_type == "application/problem+json"
    errors = {error["field"]: error["message"] for error in answer.json["errors"]}
    assert errors == {"title": "Must not be empty.", "summary": "Required.",
                      "goal": "Must be between 1 and 100000000.", "colour": "Unknown field."}  # fmt: skip
    assert client.post("/api/v1/cases", data="title=x", headers=auth).status_code == 415
    assert client.post("/api/v1/cases", data="[1]", content_type="application/json",
                       headers=auth).status_code == 400  # fmt: skip
    with app.app_context():
        assert _count(Case) == 0


def test_tokens_are_checked_for_life_and_scope(app, client, token):
    no_token = client.post("/api/v1/cases", json=NEW_CASE)
    assert no_token.status_code == 401 and no_token.headers["WWW-Authenticate"].startswith("Bearer")
    forged = client.post("/api/v1/cases", json=NEW_CASE,
                         headers={"Authorization": "Bearer plg_not-a-real-token"})  # fmt: skip
    assert forged.status_code == 401
    reader = issue_token(app, ("exports:read",))
    wrong_scope = client.post("/api/v1/cases", json=NEW_CASE,
                              headers={"Authorization": f"Bearer {reader}"})  # fmt: skip
    assert wrong_scope.status_code == 403
    with app.app_context():
        found = api_tokens.authenticate(token)
        api_tokens.revoke(found, by=found.created_by)
        db.session.commit()
    revoked = client.post("/api/v1/cases", json=NEW_CASE,
                          headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert revoked.status_code == 401
    with app.app_context():
        assert _count(Case) == 0


def test_an_expired_token_or_one_whose_admin_left_stops_working(app, token):
    with app.app_context():
        found = api_tokens.authenticate(token)
        assert api_tokens.authenticate(token, now=found.expires_at + timedelta(seconds=1)) is None
        found.created_by.removed_at = found.created_at
        db.session.commit()
        assert api_tokens.authenticate(token) is None


def test_a_removed_admin_invited_again_does_not_bring_their_tokens_back(app, token):
    """Found by review: removal only suspended them, and a token copied off the laptop that
    got its admin removed worked again once they were invited back."""
    with app.app_context():
        maker = api_tokens.authenticate(token).created_by
        other = make_organizer("admin", email="other.admin@example.org")
        organizers.remove(maker, by=other)
        db.session.commit()
        assert api_tokens.authenticate(token) is None

        organizers.invite(maker.email, name="Back", role=OrganizerRole.ADMIN, by=other)
        db.session.commit()

        assert api_tokens.authenticate(token) is None
        revoked = db.session.scalars(
            select(AuditEntry.action).where(AuditEntry.action == "api_token.revoke")
        ).all()
        assert revoked == ["api_token.revoke"]


def test_the_same_idempotency_key_creates_once(app, client, auth):
    headers = {**auth, "Idempotency-Key": "case-2026-11-25"}
    first = client.post("/api/v1/cases", json=NEW_CASE, headers=headers)
    again = client.post("/api/v1/cases", json=NEW_CASE, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/api/v1/cases", json={**NEW_CASE, "title": "Other"}, headers=headers)
    assert other.status_code == 422
    with app.app_context():
        assert _count(Case) == 1


def test_a_disbursement_through_the_ledger_once(app, client, auth):
    with app.app_context():
        case = Case(slug="medicine", title="Medicine", summary="…", currency="EUR", status="open")
        db.session.add(case)
        make_contribution(make_pledge(make_supporter()), gross=20_00, fee=0)
        db.session.commit()
    payment = {"case": "medicine", "amount": 25_00, "paid_on": date.today().isoformat(),
               "note": "=HYPERLINK(\"x\")"}  # fmt: skip
    headers = {**auth, "Idempotency-Key": "pharmacy-invoice-7"}
    first = client.post("/api/v1/disbursements", json=payment, headers=headers)
    assert first.status_code == 201, first.json
    assert (first.json["from_supporters"], first.json["from_other_income"]) == (20_00, 5_00)
    assert client.post("/api/v1/disbursements", json=payment, headers=headers).json == first.json
    future = {**payment, "paid_on": (date.today() + timedelta(days=2)).isoformat()}
    refused = client.post("/api/v1/disbursements", json=future, headers=auth)
    assert refused.status_code == 409
    assert refused.json["detail"] == "A payment cannot be dated in the future."
    typo = client.post("/api/v1/disbursements", json={**payment, "paid_on": "0026-11-25"},
                       headers=auth)  # fmt: skip
    assert typo.status_code == 422 and typo.json["errors"][0]["field"] == "paid_on"
    with app.app_context():
        assert _count(Disbursement) == 1

    as_csv = client.get("/api/v1/exports/disbursements", headers={**auth, "Accept": "text/csv"})
    assert as_csv.content_type.startswith("text/csv")
    [row] = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert row["note"].startswith("'=")  # a spreadsheet shows it, never runs it
    as_json = client.get("/api/v1/exports/disbursements",
                         headers={**auth, "Accept": "application/json"})  # fmt: skip
    [record] = as_json.json
    # JSON is no spreadsheet: the note as typed, ids as numbers, amounts as the CSV gives them.
    assert (record["note"], record["disbursement_id"], record["amount"]) == (
        '=HYPERLINK("x")',
        1,
        row["amount"],
    )
    assert client.get("/api/v1/exports/disbursements",
                      headers={**auth, "Accept": "image/png"}).status_code == 406  # fmt: skip
    plain = client.get("/api/v1/exports/disbursements", headers=auth)  # no Accept at all
    assert plain.content_type.startswith("text/csv")
    with app.app_context():
        exports = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "export"))
        assert [entry.detail for entry in exports] == ["through the API"] * 3


def test_hostile_text_is_refused_cleanly_on_every_database(app, client, auth):
    lone_surrogate = client.post("/api/v1/cases", headers=auth, content_type="application/json",
                                 data='{"title": "a\\ud800b", "summary": "x"}')  # fmt: skip
    assert lone_surrogate.status_code == 422
    assert lone_surrogate.json["errors"][0]["field"] == "title"
    nul = client.post("/api/v1/cases", json={"title": "a\x00b", "summary": "x"}, headers=auth)
    assert nul.status_code == 201 and nul.json["title"] == "a\ufffdb"
    assert client.get("/api/v1/cases/a%00b").status_code == 404
    assert client.patch("/api/v1/cases/a%00b", json={}, headers=auth).status_code == 404
    bad_key = client.post("/api/v1/cases", json={"title": "t", "summary": "s"},
                          headers={**auth, "Idempotency-Key": "k\x01"})  # fmt: skip
    assert bad_key.status_code == 400


def test_space_is_what_the_document_calls_space(client, auth):
    """The document's patterns are ECMA-262 regular expressions, where U+0085 is not a space."""
    odd = client.post("/api/v1/cases", json={"title": "\u0085", "summary": "x"}, headers=auth)
    assert odd.status_code == 201
    blank = client.post("/api/v1/cases", json={"title": "\u3000 \t", "summary": "x"}, headers=auth)
    assert blank.status_code == 422
