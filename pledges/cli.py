"""`flask --app wsgi pledges ...`: the commands an operator and cron rely on."""

import time

import click
from flask import Flask
from flask.cli import AppGroup

from pledges.extensions import db
from pledges.services import demo_data, mail_outbox

pledges_cli = AppGroup("pledges", help="Run the fund: demo data, mail delivery.")


@pledges_cli.command("demo")
def load_demo() -> None:
    """Load the demo fund: three cases and a few supporters. Safe to run again."""
    report = demo_data.load()
    db.session.commit()
    click.echo(
        f"demo data: {report.cases_created} cases, {report.supporters_created} supporters, "
        f"{report.contributions_created} contributions added"
    )


@pledges_cli.command("deliver-mail")
@click.option("--watch", is_flag=True, help="Keep running and deliver as mail is queued.")
@click.option(
    "--interval", default=2.0, show_default=True, help="Seconds between checks with --watch."
)
def deliver_mail(watch: bool, interval: float) -> None:
    """Send the queued emails that are due, with retries and back-off."""
    while True:
        report = mail_outbox.deliver_due()
        if report.handled or not watch:
            click.echo(
                f"mail: {report.sent} sent, {report.dropped} dropped, "
                f"{report.retrying} to retry, {report.failed} failed"
            )
        for error in report.errors:
            click.echo(f"  {error}", err=True)
        if not watch:
            raise SystemExit(1 if report.failed else 0)
        time.sleep(interval)


def register(app: Flask) -> None:
    app.cli.add_command(pledges_cli)
