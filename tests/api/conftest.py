from datetime import timedelta

import pytest

from pledges.extensions import db
from pledges.models import SCOPES
from pledges.services import api_tokens
from tests.factories import make_organizer


def issue_token(app, scopes: tuple[str, ...] = SCOPES) -> str:
    with app.app_context():
        admin = make_organizer("admin")
        secret = api_tokens.issue("script", list(scopes), timedelta(days=30), by=admin).secret
        db.session.commit()
    return secret


@pytest.fixture
def token(app) -> str:
    return issue_token(app)


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
