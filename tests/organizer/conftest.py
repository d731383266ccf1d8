import pytest

from tests.factories import make_organizer
from tests.organizer.signing_in import sign_in


@pytest.fixture
def organizer_client(app, client):
    """A client signed in as an organizer (not an admin), with both factors."""
    with app.app_context():
        client.organizer_id = make_organizer().id
    sign_in(app, client, client.organizer_id)
    return client


@pytest.fixture
def admin_client(app):
    client = app.test_client()
    with app.app_context():
        client.organizer_id = make_organizer("admin").id
    sign_in(app, client, client.organizer_id)
    return client
