"""Signing in the way a browser does: the emailed link (confirmed with its button), then, for
an organizer, the code."""

from pledges.extensions import db
from pledges.models import Organizer, Supporter
from pledges.services import auth_tokens
from tests.factories import totp_code


def _follow_link(app, client, kind: type, account_id: int, prefix: str) -> None:
    with app.app_context():
        token = auth_tokens.issue(db.session.get(kind, account_id))
        db.session.commit()
    response = client.post_form(f"{prefix}/{token}")
    assert response.status_code == 303, response.get_data(as_text=True)


def sign_in_supporter(app, client, supporter_id: int) -> None:
    _follow_link(app, client, Supporter, supporter_id, "/login")


def use_link(app, client, organizer_id: int) -> None:
    """The first factor only."""
    _follow_link(app, client, Organizer, organizer_id, "/organizer/login")


def sign_in(app, client, organizer_id: int, steps_ahead: int = 0) -> None:
    """Both factors. Give a different `steps_ahead` to sign the same organizer in again within
    half a minute: a code is accepted once."""
    use_link(app, client, organizer_id)
    with app.app_context():
        code = totp_code(db.session.get(Organizer, organizer_id), steps_ahead)
    response = client.post_form("/organizer/second-factor", {"code": code})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.location.endswith("/organizer/")
