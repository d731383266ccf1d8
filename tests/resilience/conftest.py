"""The resilience suite runs on PostgreSQL only: what it breaks (a server restart, a dump and
restore, many processes at once) is what production runs on."""

import pytest

from tests.conftest import _truncate_postgres
from tests.resilience.storm import WEBHOOK_SECRET
from tests.stripe.fake_stripe import FakeStripe


@pytest.fixture
def database_url(request):
    url = request.getfixturevalue("postgres_schema")
    _truncate_postgres(url)
    return url


@pytest.fixture
def storm_fake():
    """A fake Stripe of the storm's own (the stripe tests' one is shared by the session)."""
    fake = FakeStripe(WEBHOOK_SECRET)
    fake.start()
    yield fake
    fake.stop()
