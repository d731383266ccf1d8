"""The site's header follows who is signed in: a signed-in organizer is offered their pages and
their sign-out, not the supporters' "Pledge" and "Sign in"; everyone else sees it unchanged."""

from tests.factories import make_organizer, make_supporter
from tests.organizer.signing_in import sign_in_supporter, use_link

DASHBOARD_LINK = '<a href="/organizer/">Organizer dashboard</a>'
ORGANIZER_SIGN_OUT = 'action="/organizer/logout"'


def _header(page) -> str:  # noqa: ANN001
    text = page.get_data(as_text=True)
    return text[text.index("<header") : text.index("</header>")]


def test_a_signed_in_organizer_gets_their_pages_and_sign_out_in_the_header(organizer_client):
    for path in ("/", "/cases", "/organizer/"):
        header = _header(organizer_client.get(path))
        assert DASHBOARD_LINK in header and ORGANIZER_SIGN_OUT in header, path
        assert 'href="/login"' not in header and 'href="/pledge"' not in header, path
    # Organizer pages keep one "Sign out": the header's.
    assert organizer_client.get("/organizer/").get_data(as_text=True).count(ORGANIZER_SIGN_OUT) == 1
    # Nor does the footer offer to sign in again (found trying it out).
    assert "Organizer sign-in" not in organizer_client.get("/cases").get_data(as_text=True)


def test_everyone_else_finds_the_organizer_sign_in_in_the_footer(client):
    assert 'href="/organizer/login"' in client.get("/cases").get_data(as_text=True)


def test_the_sign_out_in_the_header_ends_the_organizer_session(organizer_client):
    organizer_client.post_form("/organizer/logout")
    header = _header(organizer_client.get("/"))
    assert 'href="/login"' in header and DASHBOARD_LINK not in header
    assert organizer_client.get("/organizer/").status_code in (302, 303)


def test_halfway_through_signing_in_the_header_stays_the_supporters(app, client):
    with app.app_context():
        organizer_id = make_organizer().id
    use_link(app, client, organizer_id)  # the link, not the code yet
    header = _header(client.get("/"))
    assert 'href="/login"' in header and DASHBOARD_LINK not in header
    assert client.get("/organizer/").status_code in (302, 303)


def test_supporters_and_visitors_see_the_header_they_always_saw(app, client):
    header = _header(app.test_client().get("/"))
    assert 'href="/pledge"' in header and 'href="/login"' in header
    assert DASHBOARD_LINK not in header
    with app.app_context():
        supporter_id = make_supporter("reader@example.org").id
    sign_in_supporter(app, client, supporter_id)
    header = _header(client.get("/"))
    assert 'href="/member"' in header and 'action="/logout"' in header
    assert DASHBOARD_LINK not in header and ORGANIZER_SIGN_OUT not in header
