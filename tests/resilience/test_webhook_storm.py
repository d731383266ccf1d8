"""A storm of Stripe webhooks against gunicorn on PostgreSQL: renewals, failed charges, refunds,
amount changes and cancellations for 500 pledges, duplicated, shuffled, some forged and some
stale, from eight threads at once, handled by three event workers at once. Whatever order they
arrive in, the fund ends exactly where Stripe is."""

import random
import time

import pytest

from tests.resilience.storm import (
    STRIPE_KEY,
    WEBHOOK_SECRET,
    at_the_same_moment,
    checkout,
    deliver,
    delivery_problems,
    end_state_problems,
    event_workers,
    gunicorn,
    handled_at_the_same_moment,
    handling_problems,
    open_fund,
    play_history,
    wait_until_handled,
)

SEED = 20261104
PLEDGES, DELIVERIES, THREADS, WORKERS = 500, 5000, 8, 3


def test_a_webhook_storm_ends_exactly_where_stripe_is(
    app, runner, database_url, storm_fake, tmp_path
):
    rng = random.Random(SEED)
    storm = play_history(storm_fake, open_fund(app, rng, PLEDGES), rng, DELIVERIES)
    started = time.monotonic()
    try:
        with (
            gunicorn(database_url, storm_fake, tmp_path) as server,
            event_workers(database_url, storm_fake, tmp_path, count=WORKERS),
        ):
            deliver(server.url, storm_fake, storm.deliveries, threads=THREADS,
                    deadline=started + 300)  # fmt: skip
            received = time.monotonic() - started
            wait_until_handled(app, deadline=started + 400)
            log = server.log_tail()
    except RuntimeError as error:
        pytest.fail(str(error))
    seconds = time.monotonic() - started

    figures = storm.figures()
    retried = [d for d in storm.deliveries if len(d.answers) > 1]
    slowest = max(d.seconds for d in storm.deliveries)
    print(
        f"\nwebhook storm: {len(storm.deliveries)} events received in {received:.1f} s "
        f"({len(storm.deliveries) / received:.0f}/s, {THREADS} threads), all handled by "
        f"{WORKERS} workers after {seconds:.1f} s: "
        f"{figures['genuine']} genuine, {figures['duplicate']} duplicates, "
        f"{figures['forged']} forged and {figures['stale']} stale refused; "
        f"{len(retried)} needed a retry; slowest answer {slowest:.2f} s"
    )
    assert delivery_problems(storm) == [], log
    # Nothing was killed: a delivery answered 5xx or dropped would be a bug, even though
    # Stripe's retry would hide it; so would an event that failed at its first attempt.
    assert retried == [], [(d.event_id, d.answers) for d in retried[:10]]
    assert handling_problems(app) == []
    assert end_state_problems(app, storm_fake, storm) == []
    checked = runner.invoke(args=["pledges", "ledger-check"])
    assert checked.exit_code == 0, checked.output


def test_two_attempts_at_one_invoice_failing_handled_at_the_same_moment_are_both_taken(
    app, config, make_app, database_url, storm_fake, tmp_path
):
    """Stripe sends an invoice.payment_failed event for each attempt at a charge; two handled
    at once once both inserted the invoice's payment problem, and one failed on the unique key."""
    rows = open_fund(app, random.Random(SEED), 40)
    with storm_fake.lock:
        subscriptions = [checkout(storm_fake, *row)["subscription"]["id"] for row in rows]
    pairs = []
    for subscription_id in subscriptions:
        invoice = storm_fake.fail_invoice(subscription_id)
        pairs.append([storm_fake.event("invoice.payment_failed", invoice) for _ in range(2)])
    answers: list[int] = []
    try:
        with gunicorn(database_url, storm_fake, tmp_path) as server:
            for pair in pairs:
                answers += at_the_same_moment(server.url, storm_fake, pair)
            log = server.log_tail()
    except RuntimeError as error:
        pytest.fail(str(error))
    assert answers == [200] * len(answers), log

    # Two event workers, each taking one of the pair at the same instant.
    worker = make_app(
        {**config, "PAYMENTS": "stripe", "STRIPE_SECRET_KEY": STRIPE_KEY,
         "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET, "STRIPE_API_BASE": storm_fake.url}
    )  # fmt: skip
    for pair in pairs:
        handled_at_the_same_moment(worker, [event["id"] for event in pair])
    assert handling_problems(app) == []
