"""The admins' pages for API tokens: made and shown once, listed, revoked, named in the audit
log."""

import re
from datetime import timedelta

from flask import g
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import ApiToken, AuditEntry, Organizer
from pledges.services import api_tokens, audit
from tests.factories import make_organizer

SECRET = re.compile(r"plg_[A-Za-z0-9_-]{20,}")
FORM = {"name": "Bank import script", "scopes": ["disbursements:write", "exports:read"]}


def test_an_admin_makes_a_token_and_sees_its_secret_once(app, admin_client):
    page = admin_client.get("/organizer/api-tokens")
    assert page.status_code == 200
    assert 'href="/organizer/api-tokens"' in page.get_data(as_text=True)  # in the nav

    made = admin_client.post_form("/organizer/api-tokens", {**FORM, "lifetime": "90"})

    body = made.get_data(as_text=True)
    assert made.status_code == 200  # the answer itself, not a redirect to a URL
    assert made.headers["Cache-Control"] == "no-store"
    assert "it will not be shown again" in body
    secret = SECRET.search(body)[0]
    assert f"Authorization: Bearer {secret}" in body
    assert 'hx-history="false"' in body  # htmx keeps no copy in localStorage
    with admin_client.session_transaction() as session:
        assert secret not in repr(dict(session))  # not in a flash either
    with app.app_context():
        token = db.session.scalar(select(ApiToken))
        assert (token.name, token.scope_list) == (FORM["name"], FORM["scopes"])
        assert abs(token.expires_at - token.created_at - timedelta(days=90)) < timedelta(minutes=1)
        assert token.created_by_id == admin_client.organizer_id
        assert secret.startswith(token.prefix)
        row = db.session.execute(select(ApiToken.__table__)).one()
        assert all(secret not in str(value) for value in row)  # only its hash is kept
        assert api_tokens.authenticate(secret).id == token.id
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.create"))
        assert entry.organizer_id == admin_client.organizer_id

    again = admin_client.get("/organizer/api-tokens").get_data(as_text=True)
    assert secret not in again
    assert FORM["name"] in again and f"{token.prefix}…" in again and "live" in again


def test_with_htmx_the_secret_replaces_the_form(admin_client):
    made = admin_client.post_form(
        "/organizer/api-tokens", {**FORM, "lifetime": "30"}, htmx=True
    ).get_data(as_text=True)

    assert "<nav" not in made  # the fragment alone, in place of the form
    assert 'id="api-token-issued"' in made and SECRET.search(made)


def test_a_token_needs_a_name_and_a_scope(app, admin_client):
    sent = {"name": "  ", "lifetime": "30"}  # no scope ticked

    refused = admin_client.post_form("/organizer/api-tokens", sent, htmx=True)

    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "<nav" not in body  # the form, to swap in place
    assert 'id="name-error"' in body and "Say what the token is for." in body
    assert 'id="scopes-error"' in body and "Choose at least one" in body
    too_long = admin_client.post_form(
        "/organizer/api-tokens", {**FORM, "name": "x" * 81, "lifetime": "30"}
    )
    assert too_long.status_code == 422 and 'id="name-error"' in too_long.get_data(as_text=True)
    odd = admin_client.post_form("/organizer/api-tokens", {**FORM, "lifetime": "3650"})
    assert odd.status_code == 422 and 'id="lifetime-error"' in odd.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ApiToken)) is None


def test_a_revoked_token_opens_nothing(app, admin_client):
    with app.app_context():
        admin = db.session.get(Organizer, admin_client.organizer_id)
        issued = api_tokens.issue("Old script", ["cases:write"], timedelta(days=30), by=admin)
        db.session.commit()
        token_id, secret = issued.token.id, issued.secret
    url = f"/organizer/api-tokens/{token_id}/revoke"
    assert url in admin_client.get("/organizer/api-tokens").get_data(as_text=True)
    asked = admin_client.get(url).get_data(as_text=True)
    assert "Revoke this token" in asked and "Old script" in asked

    revoked = admin_client.post_form(url)

    assert revoked.status_code == 303 and revoked.location.endswith("/organizer/api-tokens")
    with app.app_context():
        assert api_tokens.authenticate(secret) is None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "api_token.revoke"))
        assert entry.subject == f"api_token:{token_id}"
    listed = admin_client.get("/organizer/api-tokens").get_data(as_text=True)
    assert "is revoked" in listed and "revoked" in listed and url not in listed
    assert "revoked already" in admin_client.get(url).get_data(as_text=True)
    assert admin_client.post_form(url).status_code == 303  # a second click: nothing new
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action)).all()
        assert actions.count("api_token.revoke") == 1


def test_an_organizer_who_is_not_an_admin_is_refused(app, organizer_client):
    with app.app_context():
        admin = make_organizer("admin")
        token_id = api_tokens.issue(
            "Script", ["exports:read"], timedelta(days=30), by=admin
        ).token.id
        db.session.commit()

    assert organizer_client.get("/organizer/api-tokens").status_code == 403
    made = organizer_client.post_form("/organizer/api-tokens", {**FORM, "lifetime": "30"})
    assert made.status_code == 403
    assert organizer_client.post_form(f"/organizer/api-tokens/{token_id}/revoke").status_code == 403
    assert 'href="/organizer/api-tokens"' not in organizer_client.get("/organizer/").get_data(
        as_text=True
    )
    with app.app_context():
        assert db.session.scalar(select(ApiToken.revoked_at)) is None
        assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 1


def test_the_audit_log_names_the_token_an_action_came_through(app, admin_client):
    with app.app_context():
        admin = db.session.get(Organizer, admin_client.organizer_id)
        token = api_tokens.issue("Case sync", ["cases:write"], timedelta(days=30), by=admin).token
        db.session.commit()
        token_id, prefix = token.id, token.prefix
    with app.test_request_context():
        g.api_token_id = token_id  # as pledges.web.api sets it for a request
        audit.record(
            "case.create", "case:7", by=db.session.get(Organizer, admin_client.organizer_id)
        )
        db.session.commit()

    log = admin_client.get("/organizer/audit").get_data(as_text=True)

    assert log.count("via API token") == 1
    assert f"via API token #{token_id}" in log
    assert "Case sync" in log and f"{prefix}…" in log
