"""`flask --app wsgi pledges ...`: the commands an operator and cron rely on."""

import logging
import signal
import threading
import time
from collections.abc import Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from tqdm import tqdm
from werkzeug.datastructures import MultiDict

from pledges.extensions import begin_writing, db
from pledges.forms import EmailForm
from pledges.models import Case, OrganizerRole
from pledges.models.types import is_in_the_future, utc_today
from pledges.money import format_money, to_minor
from pledges.payments import gateway, stripe_inbox
from pledges.payments.demo_gateway import DemoGateway
from pledges.payments.stripe_gateway import StripeGateway
from pledges.payments.stripe_sync import (
    DEFAULT_SINCE_DAYS,
    DISPUTE_DAYS,
    REFUND_DAYS,
    disputes_since,
    refunds_since,
    sync,
    sync_start,
)
from pledges.services import (
    demo_data,
    disbursements,
    ledger,
    mail_outbox,
    organizers,
    pledges,
    reminders,
)

log = logging.getLogger(__name__)

pledges_cli = AppGroup("pledges", help="Run the fund: demo data, mail, the ledger.")


@pledges_cli.command("demo")
def load_demo() -> None:
    """Load the demo fund: three cases and a few supporters. Safe to run again."""
    if current_app.config["PLEDGES_ENV"] == "production":
        raise click.UsageError("demo data would enter a real fund's books: not in production")
    begin_writing()
    report = demo_data.load()
    db.session.commit()
    click.echo(
        f"demo data: {report.organizers_created} organizers, {report.cases_created} cases, "
        f"{report.supporters_created} supporters, "
        f"{report.contributions_created} contributions, "
        f"{report.disbursements_created} disbursements added"
    )


@pledges_cli.command("demo-billing")
def demo_billing() -> None:
    """With demo payments: do what Stripe does each day (renewals, pauses ending, canceled
    pledges ending). Safe to run again; bin/dev runs it every minute."""
    demo = gateway()
    if not isinstance(demo, DemoGateway):
        raise click.UsageError("demo-billing is for PAYMENTS=demo; Stripe bills by itself")
    begin_writing()
    paid = demo.run_billing()
    db.session.commit()
    click.echo(f"demo billing: {paid} payments made")


@pledges_cli.command("invite-organizer")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice([role.value for role in OrganizerRole]),
    default=OrganizerRole.ORGANIZER.value,
    show_default=True,
    help="admin also manages organizers and reads the audit log.",
)
@click.option("--name", default="", help="How others will call them (default: the address).")
def invite_organizer(email: str, role: str, name: str) -> None:
    """Invite an organizer by email, e.g. the fund's first admin."""
    form = EmailForm(formdata=MultiDict({"email": email}), meta={"csrf": False})
    if not form.validate():
        raise click.BadParameter(form.email.errors[0], param_hint="EMAIL")
    try:
        organizers.invite(email, name=name or email.split("@")[0], role=OrganizerRole(role))
    except organizers.AlreadyInvited as error:
        raise click.BadParameter("this address belongs to an organizer already") from error
    db.session.commit()
    click.echo(
        f"invitation queued for {email} as {role}; the mail worker sends it "
        "(`pledges deliver-mail`). The link works once, for three days."
    )


@pledges_cli.command("send-reminders")
def send_reminders() -> None:
    """Queue the reminders now due (upcoming charges), and forget checkouts left unpaid a month
    ago; cron runs it every hour. Running it again queues nothing twice."""
    begin_writing()
    report = reminders.queue_due()
    forgotten = pledges.forget_abandoned_checkouts()
    db.session.commit()
    click.echo(
        f"reminders queued: {report.upcoming} upcoming charges, {report.dunning} failed "
        f"payments, {report.card_expiring} expiring cards, {report.digests} monthly digests"
    )
    click.echo(
        f"checkouts left unpaid for {pledges.ABANDONED_KEPT.days} days, forgotten: {forgotten}"
    )


def _worker_options(doing: str, interval: float) -> Callable[[Callable], Callable]:
    """--once/--forever and --interval, as each queue's worker takes them."""

    def decorate(command: Callable) -> Callable:
        command = click.option(
            "--interval",
            default=interval,
            show_default=True,
            help="Seconds between checks with --forever.",
        )(command)
        return click.option(
            "--once/--forever",
            default=True,
            help=f"{doing} what is due and stop (default), or keep at it as more comes.",
        )(command)

    return decorate


class _Stop:
    """A worker's stop request, as a plain attribute: a signal handler runs between two
    bytecodes of the main thread, and one that took a lock (`threading.Event.set` does, and
    logging) could wait forever for the lock that thread holds, in `Event.wait`."""

    def __init__(self) -> None:
        self.requested = False

    def is_set(self) -> bool:
        return self.requested

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking within a tenth of a second of a stop request."""
        deadline = time.monotonic() + seconds
        while not self.requested and (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.1))
        return self.requested


def _stop_on_signal() -> _Stop:
    """Set by SIGTERM (systemd stopping or restarting the service) or SIGINT (Ctrl-C): the
    worker finishes what it has in hand, gives back the rest of what it claimed, and exits.
    A second signal stops it at once."""
    stop = _Stop()

    def on_signal(number: int, frame: object) -> None:
        stop.requested = True
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return stop


@pledges_cli.command("deliver-mail")
@_worker_options("Deliver", interval=2.0)
def deliver_mail(once: bool, interval: float) -> None:
    """Send the queued emails that are due, with retries and back-off."""
    stopping = _Stop() if once else _stop_on_signal()
    while True:
        report = mail_outbox.deliver_due(limit=1000, stopping=stopping.is_set)
        summary = (
            f"mail: {report.sent} sent, {report.dropped} dropped, "
            f"{report.retrying} to retry, {report.failed} failed"
        )
        if once:
            _tell(summary, report.errors)
            if report.sent + report.dropped < 1000:
                raise SystemExit(1 if report.failed else 0)
        elif report.handled:
            log.info(summary)  # a service's log, in the app's format; each failure is logged
        if stopping.is_set() or (report.handled < 1000 and stopping.wait(interval)):
            log.info("mail: stopped")
            return


@pledges_cli.command("handle-stripe-events")
@_worker_options("Handle", interval=1.0)
@click.option(
    "--threads",
    type=click.IntRange(1, 32),
    help="Events handled at once; each spends most of its time waiting for Stripe's API. "
    "Default: 4 on PostgreSQL, 1 on SQLite (one writer at a time).",
)
def handle_stripe_events(once: bool, interval: float, threads: int | None) -> None:
    """Apply the Stripe events the webhook received: payments, renewals, cancellations,
    refunds. A failed one is tried again with back-off; several workers may run at once."""
    stripe = gateway()
    if not isinstance(stripe, StripeGateway):
        raise click.UsageError("handle-stripe-events needs PAYMENTS=stripe")
    if threads is None:
        threads = 1 if db.engine.dialect.name == "sqlite" else 4
    app = current_app._get_current_object()
    total = stripe_inbox.HandlingReport()
    counting = threading.Lock()
    stopping = _Stop() if once else _stop_on_signal()

    def work() -> None:
        with app.app_context():
            while not stopping.is_set():
                try:
                    report = stripe_inbox.handle_due(stripe, limit=1000, stopping=stopping.is_set)
                except Exception:  # the database gone, say: this thread tries again later
                    log.exception("handle-stripe-events: a round failed")
                    report = stripe_inbox.HandlingReport(errors=["a round failed; see the log"])
                if once:
                    with counting:
                        total.handled += report.handled
                        total.retrying += report.retrying
                        total.errors += report.errors
                elif report.seen:  # a service's log, in the app's format; failures are logged
                    log.info(_handled(report))
                if report.seen < 1000:  # nothing more due: done, or wait for more
                    db.session.remove()
                    if once:
                        return
                    stopping.wait(interval)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if not once:
        log.info("stripe events: stopped")
        return
    _tell(_handled(total), total.errors)
    raise SystemExit(1 if total.errors else 0)


def _handled(report: stripe_inbox.HandlingReport) -> str:
    return f"stripe events: {report.handled} handled, {report.retrying} to retry"


def _tell(summary: str, errors: list[str]) -> None:
    """What a run by hand or from cron did: for whoever reads it, not for the log."""
    click.echo(summary)
    for error in errors:
        click.echo(f"  {error}", err=True)


@pledges_cli.command("sync-stripe")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    help=f"Look at invoices created from this day on (UTC); default: the last "
    f"{DEFAULT_SINCE_DAYS} days. Refunds are looked at over {REFUND_DAYS} days at least (one may "
    f"fail weeks after it was made), disputes over {DISPUTE_DAYS} days (an inquiry may become a "
    f"chargeback weeks later), subscriptions whatever their age.",
)
def sync_stripe(since) -> None:  # noqa: ANN001
    """Reconcile with Stripe what missed webhooks left behind: subscriptions' states and
    amounts, paid invoices not recorded, refunds, disputes, failed payments. Safe to run again
    and next to webhooks; cron may run it daily."""
    stripe = gateway()
    if not isinstance(stripe, StripeGateway):
        raise click.UsageError("sync-stripe needs PAYMENTS=stripe")
    start = sync_start(since)
    with tqdm(unit=" objects", desc="stripe", disable=None) as bar:  # only on a terminal

        def progress(stage: str) -> None:
            bar.set_description_str(stage, refresh=False)
            bar.update()

        report = sync(stripe, since=start, progress=progress)
    click.echo(f"stripe (invoices since {start:%Y-%m-%d} UTC, refunds since "
               f"{refunds_since(start):%Y-%m-%d}, disputes since "
               f"{disputes_since(start):%Y-%m-%d}):")  # fmt: skip
    for line in report.lines():
        click.echo(f"  {line}")
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    if report.stopped:
        click.echo(
            f"Stripe error, the sync stopped: {report.stopped}\n"
            "What is counted above is kept; run it again.",
            err=True,
        )
    if report.errors or report.stopped:
        raise SystemExit(1)


@pledges_cli.command("record-disbursement")
@click.argument("case_slug")
@click.argument("amount")
@click.option(
    "--date", "paid_on", type=click.DateTime(["%Y-%m-%d"]), help="Day paid (default today)."
)
@click.option("--note", default="", help="What the money paid for, for the books.")
def record_disbursement(case_slug: str, amount: str, paid_on, note: str) -> None:  # noqa: ANN001
    """Record money paid to a case, e.g. `record-disbursement medication-in-exile 450.00`."""
    case = db.session.scalar(select(Case).where(Case.slug == case_slug))
    if case is None:
        slugs = ", ".join(db.session.scalars(select(Case.slug).order_by(Case.slug))) or "none yet"
        raise click.BadParameter(
            f"no case with the slug {case_slug!r}; cases: {slugs}", param_hint="CASE_SLUG"
        )
    try:
        minor = to_minor(amount, case.currency)
    except ValueError as error:
        raise click.BadParameter(
            "write the amount like 450 or 450.00", param_hint="AMOUNT"
        ) from error
    if minor <= 0:
        raise click.BadParameter("the amount must be positive", param_hint="AMOUNT")
    day = paid_on.date() if paid_on else utc_today()
    if is_in_the_future(day):
        raise click.BadParameter("a disbursement cannot be paid in the future", param_hint="--date")
    recorded = disbursements.record(case, minor, day, note, by=None)
    db.session.commit()
    disbursement = recorded.disbursement
    covered = disbursement.amount - disbursement.other_income
    click.echo(
        f"disbursement {disbursement.id}: {format_money(disbursement.amount, case.currency)} to "
        f"{case.title} on {day}; {format_money(covered, case.currency)} from supporters' "
        f"contributions, {format_money(disbursement.other_income, case.currency)} from other income"
    )
    for other, (before, after) in recorded.recalculated.items():
        click.echo(
            f"  dated before disbursement {other}, which now takes "
            f"{format_money(after, case.currency)} from other income "
            f"(was {format_money(before, case.currency)})"
        )


@pledges_cli.command("reallocate")
def reallocate() -> None:
    """Rebuild the whole attribution ledger from scratch; the result is always the same."""
    with tqdm(unit=" disbursements", desc="reallocating") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = ledger.rebuild(progress=progress)
    db.session.commit()
    changed = report.allocations_written + report.allocations_removed
    click.echo(
        f"ledger rebuilt: {report.disbursements} disbursements; "
        + (
            f"{report.allocations_written} allocations written, "
            f"{report.allocations_removed} removed"
            if changed
            else "every allocation was already right, nothing changed"
        )
    )


@pledges_cli.command("ledger-check")
def ledger_check() -> None:
    """Verify every invariant of the ledger; exit non-zero, naming the rows, if one fails."""
    problems = ledger.check()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo("ledger sound: every invariant holds")


@pledges_cli.command("doctor")
def doctor() -> None:
    """Check the configuration and what it points at (database, migrations, mail server,
    Redis, Stripe key mode, translations); exit 1 if anything fails."""
    from flask import current_app

    from pledges import doctor as diagnosis

    results = diagnosis.examine(current_app._get_current_object())
    for result in results:
        click.echo(f"{'✓' if result.passed else '✗'} {result.name}: {result.reason}")
    failed = [result.name for result in results if not result.passed]
    if failed:
        click.echo(f"{len(failed)} of {len(results)} checks failed: {', '.join(failed)}", err=True)
        raise SystemExit(1)
    click.echo(f"all {len(results)} checks passed")


def register(app: Flask) -> None:
    app.cli.add_command(pledges_cli)
