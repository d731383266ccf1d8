import hashlib
import re
from pathlib import Path

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution
from pledges.web import static_files

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_security_headers_on_every_page(client):
    for path in ("/", "/pledge", "/login", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"


def test_pages_have_no_inline_script_or_style_and_nothing_from_elsewhere(client):
    for path in ("/", "/pledge", "/login"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert "<style" not in page and " style=" not in page, path
        assert not re.search(r'(src|href)="(https?:)?//', page), path


def test_htmx_is_configured_for_a_strict_csp(client):
    page = client.get("/").get_data(as_text=True)
    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


def test_vendored_assets_are_served_from_our_origin(client):
    for asset in ("vendor/htmx.min.js", "vendor/pico.min.css", "js/app.js", "css/app.css"):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200, asset
        assert len(response.get_data()) > 500, asset
        response.close()


def test_our_scripts_and_styles_are_addressed_by_their_content(client, tmp_path):
    """After an upgrade a browser cannot keep an old script beside the new pages: the address
    changes with the content, so nginx may let browsers keep each one for a year."""
    page = client.get("/").get_data(as_text=True)
    addressed = dict(re.findall(r'(?:src|href)="/static/([^"?]+)\?v=(\w+)"', page))
    assert {"vendor/htmx.min.js", "vendor/pico.min.css", "js/app.js", "css/app.css"} <= set(
        addressed
    )
    for asset, version in addressed.items():
        assert version == hashlib.sha256((STATIC / asset).read_bytes()).hexdigest()[:12]

    edited = tmp_path / "app.css"
    edited.write_text("body { color: black }")
    before = static_files.content_version(edited)
    edited.write_text("body { color: white; }")
    assert static_files.content_version(edited) not in {before, None}
    assert static_files.content_version(tmp_path / "missing.css") is None


def test_form_post_without_csrf_token_is_refused(app, client):
    response = client.post("/pledge", data={"amount": "10", "email": "a@example.org"})
    assert response.status_code == 400


def test_htmx_request_may_carry_the_csrf_token_in_a_header(client):
    token = client.csrf_token()
    response = client.post(
        "/login",
        data={"email": "a@example.org"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200


def test_session_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def production_config(config) -> dict:
    return {
        **config,
        "PLEDGES_ENV": "production",
        "BASE_URL": "https://fund.example.org",
        "PAYMENTS": "stripe",
        "STRIPE_SECRET_KEY": "sk_test_x",
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
        "PLEDGES_ALLOW_SQLITE": True,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379",
    }


def test_production_has_no_dev_mail_and_secure_cookies(config, make_app):
    app = make_app(production_config(config))

    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.test_client().get("/dev/mail").status_code == 404


def test_demo_data_is_refused_in_production(config, make_app):
    """Found by review: it would have put invented payments and an admin into the books."""
    app = make_app(production_config(config))

    result = app.test_cli_runner().invoke(args=["pledges", "demo"])

    assert result.exit_code == 2 and "not in production" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == 0


def test_dev_mail_lists_what_was_sent(app, client, smtp):
    from pledges.services import mail_outbox
    from tests.factories import make_supporter

    with app.app_context():
        make_supporter("member@example.org")
    client.post_form("/login", {"email": "member@example.org"})
    with app.app_context():
        mail_outbox.deliver_due()

    index = client.get("/dev/mail").get_data(as_text=True)
    assert "member@example.org" in index
    message_path = re.search(r'href="(/dev/mail/[^"]+)"', index)[1]
    message = client.get(message_path).get_data(as_text=True)
    assert re.search(r'<a href="http://pledges.test/login/[\w-]+">', message)


def test_forms_work_over_https_without_a_referer(config, make_app):
    """Our pages send no Referer; a form posted over HTTPS must still be accepted."""
    app = make_app({**config, "BASE_URL": "https://pledges.test"})
    client = app.test_client()
    page = client.get("/login", base_url="https://pledges.test").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]

    response = client.post(
        "/login",
        data={"csrf_token": token, "email": "a@example.org"},
        base_url="https://pledges.test",
    )

    assert response.status_code == 200


def test_an_error_answering_htmx_replaces_the_page_not_the_form(client):
    response = client.post(
        "/pledge", data={"email": "a@example.org"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 400
    assert response.headers["HX-Retarget"] == "body"
    assert "reload the page and send it again" in response.get_data(as_text=True)
