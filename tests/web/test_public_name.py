"""A public name typed on the open pledge form is only a request until the address's owner
confirms it, signed in: otherwise anyone could plant a name on someone's address and later
spot it on a case page."""

from sqlalchemy import select

from pledges.extensions import db
from pledges.models import Pledge
from pledges.services import auth_tokens, supporters


def pledge(client, email: str, name: str | None = None) -> str:
    form = {"amount": "10", "email": email, "earmark": ""}
    if name:
        form |= {"show_name": "y", "public_name": name}
    return client.post_form("/pledge", form).headers["Location"]


def sign_in(app, client, email: str) -> None:
    with app.app_context():
        raw = auth_tokens.issue(supporters.find_by_email(email))
        db.session.commit()
    client.post_form(f"/login/{raw}")


def test_supporter_confirms_the_name_they_asked_for(app, client):
    client.post_form(pledge(client, "rosa@example.org", name="Rosa"))  # pays on the demo checkout
    sign_in(app, client, "rosa@example.org")

    page = client.get("/member").get_data(as_text=True)
    assert "you asked to be shown publicly as “Rosa”" in page
    with app.app_context():
        pledge_id = db.session.scalar(select(Pledge.id))

    response = client.post_form(
        "/member/public-name", {"pledge": str(pledge_id), "decision": "show"}
    )

    assert response.status_code == 303
    with app.app_context():
        assert supporters.find_by_email("rosa@example.org").public_name == "Rosa"
    assert "Shown publicly as Rosa." in client.get("/member").get_data(as_text=True)


def test_supporter_can_turn_the_name_down(app, client):
    client.post_form(pledge(client, "rosa@example.org", name="Rosa"))
    sign_in(app, client, "rosa@example.org")
    with app.app_context():
        pledge_id = db.session.scalar(select(Pledge.id))

    client.post_form("/member/public-name", {"pledge": str(pledge_id), "decision": "anonymous"})

    with app.app_context():
        supporter = supporters.find_by_email("rosa@example.org")
        assert supporter.public_name is None
        assert supporter.pledges[0].requested_public_name is None
    assert "You are anonymous." in client.get("/member").get_data(as_text=True)


def test_a_name_planted_by_someone_else_never_reaches_the_supporter(app, client):
    pledge(client, "target@example.org", name="canary-7q")  # abandoned at checkout
    client.post_form(pledge(client, "target@example.org"))  # the owner pledges, anonymously
    sign_in(app, client, "target@example.org")

    page = client.get("/member").get_data(as_text=True)

    assert "canary-7q" not in page
    with app.app_context():
        assert supporters.find_by_email("target@example.org").public_name is None


def test_someone_else_cannot_confirm_a_name_on_my_pledge(app, client):
    client.post_form(pledge(client, "rosa@example.org", name="Rosa"))
    client.post_form(pledge(client, "mallory@example.org"))
    with app.app_context():
        rosas = db.session.scalar(
            select(Pledge.id).where(Pledge.requested_public_name.is_not(None))
        )
    sign_in(app, client, "mallory@example.org")

    client.post_form("/member/public-name", {"pledge": str(rosas), "decision": "show"})

    with app.app_context():
        assert supporters.find_by_email("mallory@example.org").public_name is None
        assert supporters.find_by_email("rosa@example.org").public_name is None
