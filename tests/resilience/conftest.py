"""The resilience suite runs on PostgreSQL only: what it breaks (a server restart, a dump and
restore, many processes at once) is what production runs on."""

import pytest

from tests.conftest import _truncate_postgres


@pytest.fixture
def database_url(request):
    url = request.getfixturevalue("postgres_schema")
    _truncate_postgres(url)
    return url
