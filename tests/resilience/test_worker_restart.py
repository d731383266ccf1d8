"""A worker restarted as systemd does it (SIGTERM, on every upgrade) finishes what it has in
hand, gives back the rest of what it claimed, and exits cleanly: nothing it had claimed waits
for the claim's lease (minutes: a sign-in link, a payment), and nothing is done twice."""

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Contribution, OutboxEmail, OutboxStatus, StripeEvent
from pledges.models.types import utcnow
from pledges.payments import stripe_inbox
from pledges.services import mail_outbox
from tests.factories import make_pledge, make_supporter
from tests.resilience.gunicorn import ROOT, app_environment
from tests.resilience.storm import checkout, event_workers, open_fund, stripe_environment

PLEDGES = 8
EMAILS = 12


def wait_for(count, at_least: int, deadline: float = 60) -> None:  # noqa: ANN001
    stop = time.monotonic() + deadline
    while count() < at_least:
        assert time.monotonic() < stop, "the worker did nothing in time"
        time.sleep(0.05)


def stopped(process: subprocess.Popen, log: Path) -> list[str]:
    """SIGTERM, as `systemctl restart` sends; the worker must be gone well before systemd's
    90 seconds. What it said: every line a JSON object, as journald keeps a service's log."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, log.read_text()
    return [json.loads(line)["message"] for line in log.read_text().splitlines()]


def test_event_worker_stopped_mid_batch_gives_back_what_it_had_not_started(
    app, database_url, storm_fake, tmp_path
):
    with app.app_context():
        for pledge_id, amount in open_fund(app, random.Random(7), PLEDGES):
            paid = checkout(storm_fake, pledge_id, amount)
            stripe_inbox.receive(storm_fake.event("checkout.session.completed", paid["session"]))
            stripe_inbox.receive(storm_fake.event("invoice.paid", paid["invoice"]))
        db.session.commit()
    storm_fake.latency = 0.1  # each event makes a few calls: the stop comes mid-batch

    def handled() -> int:
        with app.app_context():
            count = db.session.scalar(
                select(func.count()).where(StripeEvent.handled_at.is_not(None))
            )
            db.session.remove()
        return count

    with event_workers(database_url, storm_fake, tmp_path, count=1, LOG_LEVEL="info") as (worker,):
        wait_for(handled, at_least=1)
        said = stopped(worker, tmp_path / "events-0.log")
    assert said[-1] == "stripe events: stopped"

    with app.app_context():
        events = db.session.scalars(select(StripeEvent)).all()
        done = [event for event in events if event.handled_at is not None]
        left = [event for event in events if event.handled_at is None]
        assert 0 < len(done) < len(events), "stopped before or after the batch, not in it"
        assert {event.attempts for event in done} == {1}
        assert all(event.next_attempt_at <= utcnow() for event in left), "still leased"
        assert {event.attempts for event in left} == {0}
        db.session.remove()

    storm_fake.latency = 0.0
    again = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "pledges", "handle-stripe-events"],
        cwd=ROOT, env=stripe_environment(database_url, storm_fake, tmp_path),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert f"stripe events: {len(left)} handled, 0 to retry" in again.stdout, again.stderr
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contribution)) == PLEDGES


def test_mail_worker_stopped_mid_batch_sends_nothing_twice_and_leaves_nothing_leased(
    app, runner, database_url, smtp, tmp_path
):
    with app.app_context():
        for number in range(EMAILS):
            address = f"restart-{number}@example.org"
            pledge = make_pledge(make_supporter(address), amount=10_00)
            mail_outbox.enqueue("welcome", recipient=address, dedupe_key=f"welcome:{pledge.id}",
                                context={"pledge_id": pledge.id})  # fmt: skip
        db.session.commit()
    smtp.reset()
    smtp.handler.latency = 0.2
    log = tmp_path / "mail.log"
    environment = app_environment(database_url, tmp_path / "instance", MAIL_PORT=str(smtp.port),
                                  LOG_LEVEL="info")  # fmt: skip
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "pledges", "deliver-mail",
             "--forever", "--interval", "0.2"],
            cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for(lambda: len(smtp.messages), at_least=1)
        said = stopped(worker, log)
        assert said[-1] == "mail: stopped"
        assert any(line.startswith("mail: ") and " sent, " in line for line in said), said
    finally:
        worker.kill()
        worker.wait()

    with app.app_context():
        emails = db.session.scalars(select(OutboxEmail)).all()
        sent = [email for email in emails if email.status == OutboxStatus.SENT]
        left = [email for email in emails if email.status == OutboxStatus.QUEUED]
        assert len(sent) + len(left) == EMAILS
        assert 0 < len(sent) < EMAILS, "stopped before or after the batch, not in it"
        assert len(smtp.messages) == len(sent)
        assert all(email.next_attempt_at <= utcnow() for email in left), "still leased"
        assert {email.attempts for email in left} == {0}
        db.session.remove()

    smtp.handler.latency = 0.0
    result = runner.invoke(args=["pledges", "deliver-mail", "--once"])
    assert f"mail: {len(left)} sent" in result.output
    recipients = sorted(message["To"] for message in smtp.messages)
    assert recipients == sorted(f"restart-{number}@example.org" for number in range(EMAILS))
