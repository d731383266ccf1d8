"""Signing an organizer in the way a browser does: the emailed link, then the code."""

from pledges.extensions import db
from pledges.models import Organizer
from pledges.services import auth_tokens
from tests.factories import totp_code


def use_link(app, client, organizer_id: int) -> None:
    """The first factor only: a link issued for the organizer, confirmed with the button."""
    with app.app_context():
        token = auth_tokens.issue(db.session.get(Organizer, organizer_id))
        db.session.commit()
    response = client.post_form(f"/organizer/login/{token}")
    assert response.status_code == 303, response.get_data(as_text=True)


def sign_in(app, client, organizer_id: int, steps_ahead: int = 0) -> None:
    """Both factors. Give a different `steps_ahead` to sign the same organizer in again within
    half a minute: a code is accepted once."""
    use_link(app, client, organizer_id)
    with app.app_context():
        code = totp_code(db.session.get(Organizer, organizer_id), steps_ahead)
    response = client.post_form("/organizer/second-factor", {"code": code})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.location.endswith("/organizer/")
