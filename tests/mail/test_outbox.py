import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import LoginToken, OutboxEmail, OutboxStatus, Supporter
from pledges.models.types import utcnow
from pledges.services import mail_outbox, supporters
from pledges.services.claims import release, retry_delay
from tests.factories import make_pledge, make_supporter


def queue_welcome(app) -> int:
    with app.app_context():
        pledge = make_pledge(make_supporter("welcome@example.org"), amount=15_00,
                             next_charge_at=datetime(2027, 1, 3, 9, tzinfo=UTC))  # fmt: skip
        row = mail_outbox.enqueue(
            "welcome",
            recipient="welcome@example.org",
            dedupe_key=f"welcome:{pledge.id}",
            context={"pledge_id": pledge.id},
        )
        db.session.commit()
        return row.id


def test_welcome_email_goes_out_over_smtp_with_both_parts(app, smtp):
    row_id = queue_welcome(app)

    with app.app_context():
        report = mail_outbox.deliver_due()
        row = db.session.get(OutboxEmail, row_id)
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
        message_id = row.message_id

    assert report.sent == 1
    [message] = smtp.messages
    assert message["To"] == "welcome@example.org"
    assert message["From"] == "Test Solidarity Fund <fund@pledges.test>"
    assert message["Message-ID"] == message_id
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "€15.00" in text and "€15.00" in html
    assert "Next charge: €15.00 on January 3, 2027." in text and "January 3, 2027" in html
    assert "http://pledges.test/login/" in text
    assert 'href="http://pledges.test/login/' in html


def test_the_same_dedupe_key_is_queued_once(app):
    queue_welcome(app)
    with app.app_context():
        again = mail_outbox.enqueue(
            "welcome", recipient="welcome@example.org", dedupe_key="welcome:1"
        )
        db.session.commit()
        assert again is None
        assert len(db.session.scalars(select(OutboxEmail)).all()) == 1


def test_delivering_again_sends_nothing_twice(app, smtp):
    queue_welcome(app)
    with app.app_context():
        mail_outbox.deliver_due()
        second = mail_outbox.deliver_due()

    assert second.handled == 0
    assert len(smtp.messages) == 1


def test_smtp_failure_is_retried_with_back_off_and_then_succeeds(app, config, smtp, make_app):
    row_id = queue_welcome(app)
    down = make_app({**config, "MAIL_PORT": 9})  # nothing listens there

    with down.app_context():
        report = mail_outbox.deliver_due()
        row = db.session.get(OutboxEmail, row_id)
        assert (report.sent, report.retrying) == (0, 1)
        assert (row.status, row.attempts) == (OutboxStatus.QUEUED, 1)
        assert row.last_error
        retry_at = row.next_attempt_at
    assert retry_at > utcnow() + timedelta(seconds=30)
    assert smtp.messages == []

    with app.app_context():
        assert mail_outbox.deliver_due().handled == 0  # not due yet
        assert mail_outbox.deliver_due(now=retry_at).sent == 1
    assert len(smtp.messages) == 1


def test_gives_up_after_the_last_attempt(app, config, make_app):
    row_id = queue_welcome(app)
    down = make_app({**config, "MAIL_PORT": 9})

    with down.app_context():
        now = utcnow()
        for _ in range(mail_outbox.MAX_ATTEMPTS):
            mail_outbox.deliver_due(now=now)
            now += timedelta(hours=2)
        row = db.session.get(OutboxEmail, row_id)
        assert (row.status, row.attempts) == (OutboxStatus.FAILED, mail_outbox.MAX_ATTEMPTS)
        assert mail_outbox.deliver_due(now=now + timedelta(days=1)).handled == 0


@pytest.mark.parametrize("attempts", [1, 2, 3, 7, 20])
def test_back_off_grows_and_is_capped(attempts):
    delay = mail_outbox.retry_delay(attempts)
    assert timedelta(minutes=1) <= delay <= timedelta(hours=1)
    assert mail_outbox.retry_delay(attempts + 1) >= delay


def test_deliver_mail_command(app, runner, smtp):
    queue_welcome(app)

    result = runner.invoke(args=["pledges", "deliver-mail"])

    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output
    assert len(smtp.messages) == 1


def test_unknown_kind_is_refused_at_queue_time(app):
    with app.app_context(), pytest.raises(ValueError, match="unknown email kind"):
        mail_outbox.enqueue("no-such-kind", recipient="a@example.org", dedupe_key="x")


def _queue_account_emails(count: int, prefix: str) -> set[str]:
    """`count` supporters with an email each queued; their Message-IDs."""
    people = [
        Supporter(email_index=supporters.email_index(f"{prefix}{n}@example.org"),
                  email=f"{prefix}{n}@example.org")
        for n in range(count)
    ]  # fmt: skip
    db.session.add_all(people)
    db.session.commit()
    context = {"change": "preferences", "wants_reminders": True, "wants_digest": True,
               "wants_updates": False}  # fmt: skip
    queued = mail_outbox.enqueue_many(
        "account-changed", [(p.email, f"{prefix}:{p.id}", context) for p in people]
    )
    db.session.commit()
    assert queued == count
    return set(db.session.scalars(select(OutboxEmail.message_id)))


def test_two_workers_at_once_send_each_email_once(app, smtp):
    with app.app_context():
        message_ids = _queue_account_emails(300, "worker")
    barrier = threading.Barrier(2)
    sent_by = [0, 0]

    def work(number: int) -> None:
        with app.app_context():
            barrier.wait()
            for _ in range(500):  # like a worker's watch loop, in small batches to interleave
                report = mail_outbox.deliver_due(limit=20)
                sent_by[number] += report.sent
                left = db.session.scalar(
                    select(func.count()).where(OutboxEmail.status == OutboxStatus.QUEUED)
                )
                db.session.rollback()
                if not left:
                    return
                time.sleep(0.001)

    workers = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    received = [m["Message-ID"] for m in smtp.messages]
    assert len(received) == 300 and set(received) == message_ids
    assert sum(sent_by) == 300
    with app.app_context():
        rows = db.session.scalars(select(OutboxEmail)).all()
        assert {row.status for row in rows} == {OutboxStatus.SENT}
        assert {row.attempts for row in rows} == {1}


def test_a_worker_on_a_slow_mail_server_never_lets_another_send_what_it_claimed(
    app, smtp, monkeypatch
):
    """One long run (the whole queue) outlasts a batch's lease: it gives back what it has not
    sent before the lease ends, rather than sending what another worker has taken since."""
    monkeypatch.setattr(mail_outbox, "CLAIM_LEASE", timedelta(seconds=2))
    smtp.handler.latency = 0.25  # 20 emails: 5 s, more than twice the lease
    with app.app_context():
        message_ids = _queue_account_emails(20, "slow")
    started = threading.Event()

    def long_run() -> None:
        with app.app_context():
            started.set()
            mail_outbox.deliver_due(limit=1000)

    def short_runs() -> None:
        with app.app_context():
            started.wait()
            for _ in range(200):
                mail_outbox.deliver_due(limit=2)
                left = db.session.scalar(
                    select(func.count()).where(OutboxEmail.status == OutboxStatus.QUEUED)
                )
                db.session.rollback()
                if not left:
                    return
                time.sleep(0.05)

    workers = [threading.Thread(target=long_run), threading.Thread(target=short_runs)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    received = [m["Message-ID"] for m in smtp.messages]
    assert sorted(received) == sorted(message_ids)  # each once


def test_an_email_claimed_by_a_worker_that_died_is_sent_when_its_lease_runs_out(app, smtp):
    with app.app_context():
        [message_id] = _queue_account_emails(1, "orphan")
        now = utcnow()
        assert mail_outbox._claim_batch(now, 10)  # claimed, then the worker died
        assert mail_outbox.deliver_due(now=now + timedelta(minutes=1)).handled == 0
        later = now + mail_outbox.CLAIM_LEASE + timedelta(seconds=1)
        assert mail_outbox.deliver_due(now=later).sent == 1
    assert [m["Message-ID"] for m in smtp.messages] == [message_id]


def queue_sign_ins(*addresses: str) -> None:
    """A sign-in email to each address (a supporter of that address), keyed `t:<address>`."""
    for address in addresses:
        mail_outbox.enqueue("sign-in", recipient=address, dedupe_key=f"t:{address}")
        make_supporter(address)
    db.session.commit()


def test_a_refused_address_fails_at_once_and_a_busy_one_is_retried(app, smtp):
    smtp.handler.refuse["gone@example.org"] = "550 5.1.1 <gone@example.org>: no such user"
    smtp.handler.refuse["busy@example.org"] = "451 4.3.0 try again later"
    with app.app_context():
        queue_sign_ins(*("gone@example.org", "busy@example.org", "fine@example.org"))
        report = mail_outbox.deliver_due()
        assert (report.sent, report.failed, report.retrying) == (1, 1, 1)
        rows = {row.dedupe_key: row for row in db.session.scalars(select(OutboxEmail))}
        gone, busy = rows["t:gone@example.org"], rows["t:busy@example.org"]
        assert gone.status == "failed" and "550" in gone.last_error
        # Given up, the row keeps why but no longer where: nor does the server's reply.
        assert gone.recipient is None and "gone@example.org" not in gone.last_error
        assert busy.status == "queued" and busy.recipient == "busy@example.org"
        assert busy.next_attempt_at > utcnow()
        # Nor while it waits for its next try: found by review, the address stayed in the
        # plain column once sent (the server's reply quotes it).
        assert "451" in busy.last_error and "busy@example.org" not in busy.last_error
        assert rows["t:fine@example.org"].recipient is None  # sent: nothing kept of where
        # What deliver-mail prints of the failures names no address either.
        assert any("550" in error for error in report.errors)
        assert not any("gone@example.org" in error for error in report.errors)
    assert [m["To"] for m in smtp.messages] == ["fine@example.org"]


def test_a_retry_waits_from_when_the_email_failed_not_from_when_its_batch_was_claimed(app, smtp):
    """On a slow mail server a batch runs for minutes: counted from the claim, the first
    retry of an email failing late in it would be due already."""
    smtp.handler.latency = 0.4
    smtp.handler.refuse["busy@example.org"] = "451 4.3.0 try again later"
    with app.app_context():
        queue_sign_ins(*("one@example.org", "two@example.org", "busy@example.org"))
        claimed = utcnow()

        mail_outbox.deliver_due(now=claimed)

        busy = db.session.scalar(
            select(OutboxEmail).where(OutboxEmail.dedupe_key == "t:busy@example.org")
        )
        assert busy.status == "queued"
        assert busy.next_attempt_at >= claimed + retry_delay(1) + timedelta(seconds=0.7)


def test_smtp_down_while_500_are_queued_loses_nothing_and_repeats_nothing(
    app, config, smtp, make_app
):
    with app.app_context():
        message_ids = _queue_account_emails(500, "p")

    down = make_app({**config, "MAIL_PORT": 9})  # nothing listens there
    with down.app_context():
        report = mail_outbox.deliver_due(limit=1000)
    assert (report.sent, report.retrying) == (0, 500)
    assert smtp.messages == []

    later = utcnow() + timedelta(hours=2)
    with app.app_context():
        assert mail_outbox.deliver_due(now=later, limit=1000).sent == 500
        assert mail_outbox.deliver_due(now=later + timedelta(days=1), limit=1000).handled == 0
    received = [m["Message-ID"] for m in smtp.messages]
    assert len(received) == 500 and set(received) == message_ids


def test_each_outcome_is_written_once_the_server_has_the_message(app, smtp):
    with app.app_context():
        make_supporter("known@example.org")
        context = {"change": "preferences", "wants_reminders": True, "wants_digest": True,
                   "wants_updates": False}  # fmt: skip
        for address in ("known@example.org", "nobody@example.org"):  # nobody: nothing to send
            mail_outbox.enqueue(
                "account-changed", recipient=address, dedupe_key=f"o:{address}", context=context
            )
        db.session.commit()
        report = mail_outbox.deliver_due()
        assert (report.sent, report.dropped) == (1, 1)
        rows = {row.dedupe_key: row for row in db.session.scalars(select(OutboxEmail))}
        sent, dropped = rows["o:known@example.org"], rows["o:nobody@example.org"]
        assert (sent.status, sent.attempts, sent.recipient) == (OutboxStatus.SENT, 1, None)
        assert sent.sent_at is not None
        assert (dropped.status, dropped.attempts, dropped.recipient) == ("dropped", 1, None)
        assert dropped.sent_at is None
        assert mail_outbox.deliver_due().handled == 0
    assert [m["To"] for m in smtp.messages] == ["known@example.org"]


def test_a_sign_in_token_is_kept_with_the_email_that_carries_it(app, smtp):
    with app.app_context():
        make_supporter("reader@example.org")
        mail_outbox.enqueue("sign-in", recipient="reader@example.org", dedupe_key="s:1")
        db.session.commit()
        assert mail_outbox.deliver_due().sent == 1
        db.session.rollback()  # what another connection sees: committed, with the outcome
        assert db.session.scalar(select(func.count()).select_from(LoginToken)) == 1
        row = db.session.scalar(select(OutboxEmail))
        assert (row.status, row.recipient) == (OutboxStatus.SENT, None)
    [message] = smtp.messages
    assert "http://pledges.test/login/" in message.get_body(("plain",)).get_content()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_an_outcome_that_cannot_be_written_stops_the_batch_before_the_next_email_goes(
    app, smtp, monkeypatch
):
    """On PostgreSQL the outcome is written while the next email is prepared; that email is
    only committed to the server once the outcome is (SQLite writes each outcome before the
    next email is prepared: PostgreSQL only). Here the write fails: the email already sent
    will go again, as after a crash, and nothing else goes twice or half."""
    with app.app_context():
        message_ids = sorted(_queue_account_emails(3, "m"))
        monkeypatch.setattr(
            mail_outbox._Marks, "MARK_SQL", "UPDATE outbox_emails SET no_such = 1 WHERE id = %(id)s"
        )
        report = mail_outbox.deliver_due()
        assert (report.sent, report.retrying) == (1, 3)
        first = db.session.scalar(select(OutboxEmail).order_by(OutboxEmail.id))
        assert (first.status, first.attempts) == (OutboxStatus.QUEUED, 1)
        assert "no_such" in first.last_error
    assert len(smtp.messages) == 1  # the second was offered, then left without its final dot
    [sent_first] = [m["Message-ID"] for m in smtp.messages]

    monkeypatch.undo()
    with app.app_context():
        assert mail_outbox.deliver_due(now=utcnow() + timedelta(hours=1)).sent == 3
        assert mail_outbox.deliver_due(now=utcnow() + timedelta(days=1)).handled == 0
    received = [m["Message-ID"] for m in smtp.messages]
    assert sorted(received) == sorted([*message_ids, sent_first])


def test_a_worker_gives_back_only_what_is_still_its_own(app):
    """A worker whose lease ran out may find its rows claimed by another: stopping, it must not
    make them due again under that other worker."""
    with app.app_context():
        mail_outbox.enqueue("sign-in", recipient="a@example.org", dedupe_key="t:a")
        db.session.commit()
        row = db.session.scalar(select(OutboxEmail))
        mine, theirs = utcnow() - timedelta(minutes=1), utcnow() + timedelta(minutes=9)
        row.next_attempt_at = theirs
        db.session.commit()

        release(OutboxEmail, [row.id], still=(), lease_until=mine, due_at=utcnow())
        db.session.expire_all()
        assert db.session.get(OutboxEmail, row.id).next_attempt_at == theirs

        release(OutboxEmail, [row.id], still=(), lease_until=theirs, due_at=mine)
        db.session.expire_all()
        assert db.session.get(OutboxEmail, row.id).next_attempt_at == mine
