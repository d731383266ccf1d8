"""The webhook storm: a fund's worth of Stripe history played on the fake Stripe, then delivered
to the app under gunicorn, shuffled, duplicated, forged and stale, from several threads at once.

`play_history` changes the fake the way months of renewals, failed charges, refunds, amount
changes and cancellations would, and keeps each event as Stripe would have sent it then; the
app's handlers re-read every object from the fake, so any arrival order must end in the fake's
state. `deliver` sends the events as Stripe does: a delivery that fails (connection reset, 5xx,
timeout) is sent again until it is answered. `end_state_problems` compares the database with
the fake, object by object.
"""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, CaseStatus, Contribution, PaymentProblem, Pledge, StripeEvent
from pledges.payments import gateway, stripe_inbox
from pledges.payments.stripe_events import STATUS_FROM_STRIPE
from pledges.payments.stripe_gateway import SIGNATURE_TOLERANCE_SECONDS
from pledges.services import ledger, pledges
from tests.resilience.gunicorn import ROOT, Gunicorn, app_environment
from tests.resilience.gunicorn import gunicorn as serving
from tests.smtp_sink import free_port
from tests.stripe.fake_stripe import DAY, FakeStripe

WEBHOOK_SECRET = "whsec_storm_secret_for_pledges"
STRIPE_KEY = "sk_test_storm_pledges"
#: The share of deliveries that are duplicates, forged (bad signatures) and stale.
DUPLICATES, FORGED, STALE = 0.30, 0.05, 0.02
#: What happens to a subscription, and how often (renewals, failures, ...).
STEPS = {
    "renew": 34,
    "fail": 12,
    "pay_failed": 8,
    "refund": 18,
    "change_amount": 17,
    "cancel": 11,
}
FORGERIES = ("wrong-secret", "tampered", "unsigned", "garbage")


# -- the history, on the fake ------------------------------------------------------------------


@dataclass
class Subscription:
    """One pledge's subscription as the history is played."""

    pledge_id: int
    id: str
    clock: int  #: when its next invoice falls (seconds)
    paid: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    canceled: bool = False


@dataclass
class Delivery:
    """One POST Stripe makes: an event's body, and how it is (or is not) signed."""

    event_id: str
    payload: str
    kind: str  #: "genuine", "duplicate", "forged" or "stale"
    forgery: str = ""
    stale_by: int = 0
    answers: list[int | str] = field(default_factory=list)
    #: How long its answers took, all attempts together.
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        return self.kind in {"forged", "stale"}

    def headers(self, fake: FakeStripe) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        now = int(time.time())
        if self.kind == "stale":
            signature = fake.sign(self.payload, timestamp=now - self.stale_by)
        elif self.forgery == "wrong-secret":
            signature = fake.sign(self.payload, secret="whsec_someone_elses_secret")
        elif self.forgery == "tampered":  # signed, then the body changed on the way
            signature = fake.sign(self.payload + " ")
        elif self.forgery == "unsigned":
            return headers
        elif self.forgery == "garbage":
            signature = f"t={now},v1={'0' * 64}"
        else:  # Stripe signs each attempt afresh
            signature = fake.sign(self.payload)
        return {**headers, "Stripe-Signature": signature}


@dataclass
class Storm:
    deliveries: list[Delivery]
    subscriptions: dict[int, Subscription]  #: by pledge id
    genuine_events: set[str]
    #: Paid invoices only forged or stale events speak of: recorded, they prove a forgery got in.
    decoy_invoices: set[str]

    def figures(self) -> Counter:
        return Counter(delivery.kind for delivery in self.deliveries)


def open_fund(app, rng: random.Random, pledge_count: int) -> list[tuple[int, int]]:
    """Pending pledges as the form leaves them (a fifth earmarked for a case), and disbursements
    already paid from both pools, so that payments recorded late and refunds move the ledger."""
    today = datetime.now(UTC).date()
    with app.app_context():
        case, other = (
            Case(slug=slug, title=title, summary=title, currency="EUR", status=CaseStatus.OPEN)
            for slug, title in (
                ("storm-legal-defence", "Legal defence after an attack"),
                ("storm-relocation", "Relocation of a threatened activist"),
            )
        )
        db.session.add_all([case, other])
        db.session.flush()
        made = []
        for number in range(pledge_count):
            pledge = pledges.start_pledge(
                email=f"storm-supporter-{number}@example.org",
                amount=rng.choice((300, 500, 1000, 1500, 2000, 5000)),
                currency="EUR",
                provider="stripe",
                case=case if number % 5 == 0 else None,
            )
            made.append((pledge.id, pledge.amount))
        for paid_to, days_ago, amount in ((case, 200, 800_00), (other, 120, 4_000_00),
                                          (case, 60, 3_000_00), (other, 2, 12_000_00)):  # fmt: skip
            ledger.record_disbursement(paid_to, amount, today - timedelta(days=days_ago), "storm")
        db.session.commit()
        return made


def checkout(fake: FakeStripe, pledge_id: int, amount: int) -> dict:
    """The checkout session the app would have started for this pledge."""
    reference = str(pledge_id)
    _, session = fake.route(
        "POST",
        "/v1/checkout/sessions",
        {
            "mode": "subscription",
            "line_items": [
                {
                    "quantity": "1",
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": str(amount),
                        "recurring": {"interval": "month"},
                    },
                }
            ],
            "client_reference_id": reference,
            "metadata": {"pledge_id": reference},
            "subscription_data": {"metadata": {"pledge_id": reference}},
        },
    )
    return fake.complete_checkout(session["id"])


def play_history(
    fake: FakeStripe, pledge_rows: list[tuple[int, int]], rng: random.Random, deliveries: int
) -> Storm:
    """Months of a fund's life on the fake; returns the deliveries Stripe would make, shuffled."""
    now = int(time.time())
    genuine: list[Delivery] = []
    subscriptions: dict[int, Subscription] = {}

    def send(kind: str, obj: dict) -> None:
        event = fake.event(kind, obj)
        genuine.append(Delivery(event["id"], json.dumps(event), "genuine"))

    with fake.lock:
        for pledge_id, amount in pledge_rows:
            paid = checkout(fake, pledge_id, amount)
            start = now - rng.randint(300, 360) * DAY
            paid["invoice"]["status_transitions"]["paid_at"] = start
            subscription = Subscription(pledge_id, paid["subscription"]["id"], start + 30 * DAY)
            subscription.paid.append(paid["invoice"]["id"])
            subscriptions[pledge_id] = subscription
            send("checkout.session.completed", paid["session"])
            send("invoice.paid", paid["invoice"])

        refused = round(deliveries * FORGED) + round(deliveries * STALE)
        decoys, bad = set(), []
        for number in range(refused):
            subscription = rng.choice(list(subscriptions.values()))
            invoice = fake.pay_invoice(subscription.id, paid_at=now - 7 * DAY)
            decoys.add(invoice["id"])
            event = fake.event("invoice.paid", invoice)
            if number < round(deliveries * FORGED):
                forgery = FORGERIES[number % len(FORGERIES)]
                bad.append(Delivery(event["id"], json.dumps(event), "forged", forgery=forgery))
            else:
                stale_by = SIGNATURE_TOLERANCE_SECONDS + rng.randint(60, 3 * DAY)
                bad.append(Delivery(event["id"], json.dumps(event), "stale", stale_by=stale_by))

        unique = deliveries - refused - round(deliveries * DUPLICATES)
        everyone = list(subscriptions.values())
        while len(genuine) < unique:
            subscription = rng.choice(everyone)
            step = rng.choices(list(STEPS), weights=list(STEPS.values()))[0]
            _step(fake, subscription, step, rng, now, send)

    duplicates = [
        Delivery(original.event_id, original.payload, "duplicate")
        for original in rng.choices(genuine, k=deliveries - len(genuine) - len(bad))
    ]
    everything = genuine + duplicates + bad
    rng.shuffle(everything)
    return Storm(everything, subscriptions, {d.event_id for d in genuine}, decoys)


def _step(fake: FakeStripe, subscription: Subscription, step: str, rng, now, send) -> None:
    """One thing happening to a subscription at Stripe, and the event it sends; a step that
    cannot happen (a renewal after the end) does nothing."""
    live = not subscription.canceled
    when = min(subscription.clock, now - 3600)
    if step == "renew" and live:
        invoice = fake.pay_invoice(subscription.id, paid_at=when)
        subscription.paid.append(invoice["id"])
        subscription.clock += 30 * DAY
        send("invoice.paid", invoice)
    elif step == "fail" and live:
        invoice = fake.fail_invoice(subscription.id)
        subscription.failed.append(invoice["id"])
        subscription.clock += 30 * DAY
        for _attempt in range(rng.choice((1, 1, 2, 3))):  # Stripe's smart retries, each an event
            send("invoice.payment_failed", invoice)
    elif step == "pay_failed" and live and subscription.failed:
        invoice_id = subscription.failed.pop(rng.randrange(len(subscription.failed)))
        invoice = fake.pay_invoice(subscription.id, paid_at=when, invoice_id=invoice_id)
        subscription.paid.append(invoice_id)
        send("invoice.paid", invoice)
    elif step == "refund":
        left = {i: _refundable(fake.charge_of(i)) for i in subscription.paid}
        refundable = [invoice_id for invoice_id, amount in left.items() if amount > 0]
        if refundable:
            invoice_id = rng.choice(refundable)
            whole = left[invoice_id]
            part = whole if whole == 1 or rng.random() < 0.4 else rng.randint(1, whole - 1)
            send("charge.refunded", fake.refund(invoice_id, part))
    elif step == "change_amount" and live:
        send(
            "customer.subscription.updated",
            fake.update_price(subscription.id, rng.choice((400, 700, 1200, 2500, 4000))),
        )
    elif step == "cancel" and live:
        subscription.canceled = True
        send("customer.subscription.deleted", fake.cancel_subscription(subscription.id))


def _refundable(charge: dict) -> int:
    return charge["amount"] - charge.get("amount_refunded", 0)


# -- gunicorn ----------------------------------------------------------------------------------


def stripe_environment(database_url: str, fake: FakeStripe, tmp_path: Path) -> dict[str, str]:
    """The app's settings with Stripe's test keys and the fake's address."""
    return app_environment(
        database_url,
        tmp_path / "instance",
        PLEDGES_ENV="development",
        PAYMENTS="stripe",
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=fake.url,
        # Nothing listens there: webhooks only queue email, they never send it.
        MAIL_PORT=str(free_port()),
        LOG_LEVEL="warning",
    )


@contextmanager
def gunicorn(
    database_url: str, fake: FakeStripe, tmp_path: Path, *, workers: int = 3
) -> Iterator[Gunicorn]:
    """The app under gunicorn with Stripe's test keys and the fake's address."""
    with serving(stripe_environment(database_url, fake, tmp_path), workers=workers) as server:
        yield server


@contextmanager
def event_workers(
    database_url: str, fake: FakeStripe, tmp_path: Path, *, count: int = 2, **settings: str
) -> Iterator[list[subprocess.Popen]]:
    """`flask pledges handle-stripe-events --forever` in `count` processes at once, as the
    service runs it; each writes its output to a file of its own."""
    environment = {**stripe_environment(database_url, fake, tmp_path), **settings}
    processes = []
    try:
        for number in range(count):
            log = (tmp_path / f"events-{number}.log").open("wb")
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "flask",
                        "--app",
                        "wsgi",
                        "pledges",
                        "handle-stripe-events",
                        "--forever",
                        "--interval",
                        "0.2",
                    ],
                    cwd=ROOT,
                    env=environment,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
            )
            log.close()
        yield processes
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def wait_until_handled(app, deadline: float) -> None:
    """Until every event received is handled or has failed once (time.monotonic())."""
    while time.monotonic() < deadline:
        with app.app_context():
            waiting = db.session.scalar(
                select(func.count())
                .select_from(StripeEvent)
                .where(StripeEvent.handled_at.is_(None), StripeEvent.attempts == 0)
            )
            db.session.remove()
        if not waiting:
            return
        time.sleep(0.2)


def handling_problems(app) -> list[str]:
    """Every event was applied at its first attempt: a failure would be a bug (a duplicate key
    under concurrency, a deadlock), even though the next attempt would hide it."""
    with app.app_context():
        rows = db.session.execute(
            select(StripeEvent.id, StripeEvent.attempts, StripeEvent.last_error).where(
                (StripeEvent.handled_at.is_(None)) | (StripeEvent.attempts > 1)
            )
        ).all()
        db.session.remove()
    return [f"event {row.id}: {row.attempts} attempts, {row.last_error}" for row in rows[:20]]


# -- delivering --------------------------------------------------------------------------------


def deliver(
    url: str, fake: FakeStripe, deliveries: list[Delivery], *, threads: int = 8, deadline: float
) -> None:
    """POST every delivery from `threads` threads at once; what is not answered (a connection
    reset, a timeout, a 5xx) is sent again, as Stripe retries, until answered or `deadline`
    (time.monotonic()). Each delivery keeps every answer it got."""
    pending = iter(deliveries)
    taking = threading.Lock()
    crashed: list[BaseException] = []

    def work() -> None:
        session = requests.Session()
        try:
            while True:
                with taking:
                    delivery = next(pending, None)
                if delivery is None:
                    return
                _post_until_answered(session, url, fake, delivery, deadline)
        except BaseException as error:  # noqa: BLE001 - surfaced below, not in a thread
            crashed.append(error)
        finally:
            session.close()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if crashed:
        raise crashed[0]


def _post_until_answered(session, url, fake, delivery: Delivery, deadline: float) -> None:
    pause = 0.05
    while True:
        began = time.monotonic()
        try:
            response = session.post(
                url + "/stripe/webhook",
                data=delivery.payload.encode(),
                headers=delivery.headers(fake),
                timeout=(5, 30),
            )
            delivery.seconds += time.monotonic() - began
            delivery.answers.append(response.status_code)
            if response.status_code < 500:
                return
        except requests.RequestException as error:
            delivery.answers.append(type(error).__name__)
        if time.monotonic() > deadline:
            return
        time.sleep(pause)
        pause = min(pause * 2, 1.0)


# -- the end state -----------------------------------------------------------------------------


def delivery_problems(storm: Storm) -> list[str]:
    """Every genuine delivery ended in 200, every forged or stale one in 400."""
    problems = []
    for delivery in storm.deliveries:
        wanted = 400 if delivery.refused else 200
        if not delivery.answers or delivery.answers[-1] != wanted:
            problems.append(
                f"{delivery.kind} {delivery.forgery} delivery of {delivery.event_id}: "
                f"answers {delivery.answers}, wanted {wanted} at last"
            )
    return problems


def end_state_problems(app, fake: FakeStripe, storm: Storm) -> list[str]:
    """The database against the fake: each pledge as its subscription, each paid invoice one
    contribution with the charge's refunds, nothing from a forged event, the ledger sound."""
    problems: list[str] = []
    with app.app_context():
        stored = {p.id: p for p in db.session.scalars(select(Pledge))}
        for pledge_id, subscription in storm.subscriptions.items():
            held = fake.objects["subscription"][subscription.id]
            item = held["items"]["data"][0]
            wanted = (
                subscription.id,
                str(STATUS_FROM_STRIPE[held["status"]]),
                item["price"]["unit_amount"] * item["quantity"],
            )
            pledge = stored[pledge_id]
            found = (pledge.provider_subscription_id, str(pledge.status), pledge.amount)
            if found != wanted:
                problems.append(f"pledge {pledge_id}: (subscription, status, amount) {found}")
                problems[-1] += f" but Stripe holds {wanted}"

        paid = {
            invoice_id: invoice
            for invoice_id, invoice in fake.objects["invoice"].items()
            if invoice["status"] == "paid" and invoice_id not in storm.decoy_invoices
        }
        rows = db.session.execute(
            select(
                Contribution.provider_payment_id,
                Contribution.pledge_id,
                Contribution.gross,
                Contribution.refunded,
            )
        ).all()
        counted = Counter(row.provider_payment_id for row in rows)
        problems += [f"invoice {i} counted {n} times" for i, n in counted.items() if n > 1]
        problems += [
            f"forged invoice {i} was recorded" for i in storm.decoy_invoices & set(counted)
        ]
        problems += [f"paid invoice {i} was never recorded" for i in set(paid) - set(counted)]
        problems += [
            f"contribution {i} matches no paid invoice"
            for i in set(counted) - set(paid) - storm.decoy_invoices
        ]
        by_subscription = {s.id: pledge_id for pledge_id, s in storm.subscriptions.items()}
        for row in rows:
            invoice = paid.get(row.provider_payment_id)
            if invoice is None:
                continue
            charge = fake.charge_of(invoice["id"])
            subscription_id = invoice["parent"]["subscription_details"]["subscription"]
            wanted = (by_subscription[subscription_id], invoice["amount_paid"])
            wanted += (charge.get("amount_refunded", 0),)
            if (row.pledge_id, row.gross, row.refunded) != wanted:
                problems.append(
                    f"contribution for {row.provider_payment_id}: (pledge, gross, refunded) "
                    f"{(row.pledge_id, row.gross, row.refunded)} but Stripe holds {wanted}"
                )

        recorded_events = set(db.session.scalars(select(StripeEvent.id)))
        refused_ids = {d.event_id for d in storm.deliveries if d.refused}
        problems += [f"refused event {e} was recorded" for e in refused_ids & recorded_events]
        problems += [
            f"genuine event {e} was never recorded" for e in storm.genuine_events - recorded_events
        ]

        open_problems = {
            problem.invoice_id
            for problem in db.session.scalars(
                select(PaymentProblem).where(PaymentProblem.resolved_at.is_(None))
            )
        }
        problems += [
            f"paid invoice {i} still shows as a payment problem" for i in open_problems & set(paid)
        ]
        still_open = {
            invoice_id
            for s in storm.subscriptions.values()
            if not s.canceled
            for invoice_id in s.failed
        }
        problems += [
            f"failed invoice {i} shows no payment problem" for i in still_open - open_problems
        ]
        problems += [f"ledger: {problem}" for problem in ledger.check()]
        db.session.remove()
    return problems[:40]


@contextmanager
def killing_workers(
    server: Gunicorn, rng: random.Random, *, every: tuple[float, float], at_most: int
):
    """While the block runs, SIGKILL one of gunicorn's workers (never the master) at random
    moments, `at_most` times; the master starts a new one. Yields the pids killed so far."""
    killed: list[int] = []
    stop = threading.Event()
    failed: list[BaseException] = []

    def kill() -> None:
        try:
            while len(killed) < at_most and not stop.wait(rng.uniform(*every)):
                workers = server.worker_pids()
                if not workers:
                    continue
                victim = rng.choice(workers)
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:  # it died on its own meanwhile
                    continue
                killed.append(victim)
        except BaseException as error:  # noqa: BLE001 - surfaced below, not in a thread
            failed.append(error)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        yield killed
    finally:
        stop.set()
        killer.join()
    if failed:
        raise failed[0]


def at_the_same_moment(url: str, fake: FakeStripe, events: list[dict]) -> list[int]:
    """Deliver each event from its own thread, released together; the answers' statuses."""
    start = threading.Barrier(len(events))
    answers: list[int] = []

    def post(event: dict) -> None:
        payload = json.dumps(event)
        headers = {"Content-Type": "application/json", "Stripe-Signature": fake.sign(payload)}
        start.wait()
        try:
            answers.append(requests.post(url + "/stripe/webhook", data=payload, headers=headers,
                                         timeout=30).status_code)  # fmt: skip
        except requests.RequestException:
            answers.append(0)  # no answer at all

    threads = [threading.Thread(target=post, args=(event,)) for event in events]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def handled_at_the_same_moment(app, event_ids: list[str]) -> None:
    """Handle each event (received already) from its own thread, released together, as two
    event workers would."""
    start = threading.Barrier(len(event_ids))
    crashed: list[BaseException] = []

    def handle(event_id: str) -> None:
        try:
            with app.app_context():
                stripe = gateway()
                report = stripe_inbox.HandlingReport()
                start.wait()
                stripe_inbox.handle_one(event_id, stripe, report)
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - surfaced below, not in a thread
            crashed.append(error)

    threads = [threading.Thread(target=handle, args=(event_id,)) for event_id in event_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if crashed:
        raise crashed[0]
