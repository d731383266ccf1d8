"""The webhook storm again, while gunicorn's workers are killed (SIGKILL) at random moments,
and an event worker too: a request or an event cut off mid-transaction leaves nothing
half-written, Stripe's retry of it is taken once, and the fund still ends exactly where Stripe
is."""

import random
import signal
import time

import pytest
from sqlalchemy import update

from pledges.extensions import db
from pledges.models import StripeEvent
from tests.resilience.storm import (
    deliver,
    delivery_problems,
    end_state_problems,
    event_workers,
    gunicorn,
    handling_problems,
    killing_workers,
    open_fund,
    play_history,
    wait_until_handled,
)

SEED = 20261105
PLEDGES, DELIVERIES, THREADS = 300, 3000, 8
#: Seconds between two kills, at random within these bounds, and how many at most: a worker
#: takes a second or two to boot on a busy machine, and some must be up to answer at all; the
#: webhook answers in milliseconds, so the whole storm is received within seconds.
KILL_EVERY, KILLS = (0.3, 1.0), 30


def test_workers_killed_mid_storm_lose_and_double_nothing(
    app, runner, database_url, storm_fake, tmp_path
):
    rng = random.Random(SEED)
    storm = play_history(storm_fake, open_fund(app, rng, PLEDGES), rng, DELIVERIES)
    started = time.monotonic()
    try:
        with (
            gunicorn(database_url, storm_fake, tmp_path) as server,
            event_workers(database_url, storm_fake, tmp_path, count=2) as workers,
        ):
            with killing_workers(
                server, random.Random(SEED + 1), every=KILL_EVERY, at_most=KILLS
            ) as killed:
                deliver(server.url, storm_fake, storm.deliveries, threads=THREADS,
                        deadline=started + 300)  # fmt: skip
                # An event worker dies mid-event: what it had claimed waits for its lease.
                workers[0].send_signal(signal.SIGKILL)
            master_alive = server.process.poll() is None
            log = server.log_tail()
            with app.app_context():  # the lease of what it held runs out
                db.session.execute(
                    update(StripeEvent)
                    .where(StripeEvent.handled_at.is_(None))
                    .values(next_attempt_at=StripeEvent.received_at)
                )
                db.session.commit()
            wait_until_handled(app, deadline=started + 400)
    except RuntimeError as error:
        pytest.fail(str(error))
    seconds = time.monotonic() - started

    figures = storm.figures()
    retried = [d for d in storm.deliveries if len(d.answers) > 1]
    failures = sum(len(d.answers) - 1 for d in retried)
    print(
        f"\nwebhook storm with crashes: {len(storm.deliveries)} events sent in {seconds:.1f} s, "
        f"{len(killed)} workers killed; {figures['duplicate']} duplicates, "
        f"{figures['forged'] + figures['stale']} refused; {len(retried)} deliveries were cut "
        f"off or failed and re-sent ({failures} failed attempts)"
    )
    assert master_alive, log
    assert len(killed) >= 5, "too few kills to have tested anything"
    assert delivery_problems(storm) == [], log
    assert handling_problems(app) == []
    assert end_state_problems(app, storm_fake, storm) == []
    checked = runner.invoke(args=["pledges", "ledger-check"])
    assert checked.exit_code == 0, checked.output
