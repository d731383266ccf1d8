"""One client hammering sign-in and the pledge form: the rate limits answer 429 with a page that
says when to come back, no email floods out, and the limits hold across workers that share
their counts in Redis (as production runs them)."""

import re
import secrets

import pytest
import redis
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import OutboxEmail, Pledge, Supporter
from tests.factories import make_pledge, make_supporter
from tests.organizer.signing_in import sign_in_supporter

HITS = 1_000
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def config(config):
    """Two app instances are two gunicorn workers: they share counts through Redis only."""
    prefix = f"pledges-test-{secrets.token_hex(4)}"
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as error:
        pytest.fail(f"Redis is needed at {REDIS_URL} for the shared rate limits: {error}")
    yield {**config, "RATELIMIT_STORAGE_URI": REDIS_URL, "RATELIMIT_KEY_PREFIX": prefix}
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)


@pytest.fixture
def workers(app, config, make_app):
    """A browser's cookie jar going to one worker, then the other."""
    second = make_app(config)
    first_client, second_client = app.test_client(), second.test_client()
    token = first_client.csrf_token()
    second_client.set_cookie("session", first_client.get_cookie("session").value)
    return [first_client, second_client], token


def hammer(workers, path, form, htmx=False):
    (clients, token), statuses = workers, []
    headers = {"HX-Request": "true"} if htmx else {}
    for number in range(HITS):
        response = clients[number % 2].post(
            path, data={"csrf_token": token, **form}, headers=headers
        )
        statuses.append(response.status_code)
        if response.status_code == 429:
            last_refusal = response
    return statuses, last_refusal


def test_sign_in_requests_are_limited_and_send_a_handful_of_emails(app, workers):
    statuses, refusal = hammer(workers, "/login", {"email": "target@example.org"})

    accepted = statuses.count(200)
    assert accepted == 5  # five links an hour for one address, however many workers
    assert statuses.count(429) == HITS - accepted
    page = refusal.get_data(as_text=True)
    assert "Too many attempts" in page and "Please wait before trying again" in page
    assert int(refusal.headers["Retry-After"]) > 0
    with app.app_context():
        queued = db.session.scalar(select(func.count()).select_from(OutboxEmail))
    assert queued == accepted


def test_many_addresses_from_one_client_are_limited_by_the_client(app, workers):
    clients, token = workers
    statuses = [
        clients[n % 2]
        .post("/login", data={"csrf_token": token, "email": f"person{n}@example.org"})
        .status_code
        for n in range(HITS)
    ]
    assert statuses.count(200) == 10  # ten an hour from one address, for any emails
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 10


def test_the_pledge_form_is_limited_and_opens_few_checkouts(app, workers):
    form = {"amount": "10", "email": "flood@example.org", "earmark": ""}
    statuses, refusal = hammer(workers, "/pledge", form, htmx=True)

    assert statuses.count(429) == HITS - 20
    assert set(statuses[:20]) == {200}  # htmx: the answer redirects to the checkout
    # An htmx request's refusal replaces the whole page, with the same explanation.
    assert refusal.headers["HX-Retarget"] == "body"
    assert re.search(r"Too many attempts", refusal.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Pledge)) == 20


def test_a_signed_in_supporter_s_changes_are_limited_and_send_few_emails(app, workers):
    """Found by review: each change emails the supporter (or calls Stripe), and nothing limited
    how often a script with one session cookie could make one."""
    (first, second), _ = workers
    with app.app_context():
        supporter_id = make_supporter("loud@example.org").id
    sign_in_supporter(app, first, supporter_id)
    second.set_cookie("session", first.get_cookie("session").value)
    token = first.csrf_token()

    def change(n: int, path: str, form: dict) -> int:
        return [first, second][n % 2].post(path, data={"csrf_token": token, **form}).status_code

    with app.app_context():
        supporter = db.session.get(Supporter, supporter_id)
        pledge_id = make_pledge(supporter).id
        ended_id = make_pledge(supporter, status="canceled").id
    mistakes = [change(n, "/member/name", {"action": "set", "name": ""}) for n in range(40)]
    # A stale page's change, refused here (found by review: it spent the budget).
    stale = [change(n, f"/member/pledges/{ended_id}/pause", {"months": "1"}) for n in range(40)]
    statuses = [
        # Two kinds of change share one budget: found by review, each had its own.
        change(n, "/member/preferences", {"wants_digest": "on"} if n % 2 else {})
        if n % 3
        else change(n, "/member/name", {"action": "set" if n % 2 else "remove", "name": "Lo"})
        for n in range(HITS // 10)
    ]

    # Sent back with their errors, or refused as no longer possible: nothing spent.
    assert (set(mistakes), set(stale)) == ({422}, {409})
    assert statuses.count(303) == 30 and statuses.count(429) == HITS // 10 - 30
    with app.app_context():
        emails = select(func.count()).where(OutboxEmail.kind == "account-changed")
        assert db.session.scalar(emails) <= 30
    # Updating the card, which a failed payment asks for, has a budget of its own; found by
    # review, it had none at all (each asks the payment provider for a page).
    cards = [change(n, f"/member/pledges/{pledge_id}/card", {}) for n in range(15)]
    assert (cards.count(303), cards.count(429)) == (10, 5)
    # Leaving is never held back.
    assert change(0, "/member/delete", {"confirm": "yes"}) == 303
