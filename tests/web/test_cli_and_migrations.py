from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, Contribution, OutboxEmail, Pledge, PledgeStatus
from pledges.services import demo_data, supporters


def test_migrations_give_the_schema_the_models_describe(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "render_as_batch": True}
        )
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_demo_data_loads_once(app, runner):
    first = runner.invoke(args=["pledges", "demo"])
    second = runner.invoke(args=["pledges", "demo"])

    assert first.exit_code == second.exit_code == 0
    assert "3 cases, 8 supporters" in first.output
    assert "0 cases, 0 supporters, 0 contributions" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 3
        supporter = supporters.find_by_email("supporter@example.org")
        [pledge] = supporter.pledges
        assert pledge.status == PledgeStatus.ACTIVE
        assert len(pledge.contributions) >= 3
        assert db.session.scalar(select(func.count()).select_from(Pledge)) == 8
        total = db.session.scalar(select(func.count()).select_from(Contribution))
        months = [spec[3] for spec in demo_data.SUPPORTERS] + [
            spec[2] for spec in demo_data.TROUBLED
        ]
        assert total == sum(months)


def test_the_demo_mailbox_shows_every_reminder_without_waiting_for_its_day(app, runner, smtp):
    """What bin/dev runs: the demo data, then demo billing and send-reminders each minute."""
    for command in ("demo", "demo-billing", "send-reminders", "send-reminders"):
        assert runner.invoke(args=["pledges", command]).exit_code == 0
    assert runner.invoke(args=["pledges", "deliver-mail"]).exit_code == 0

    fund = app.config["FUND_NAME"]
    subjects = {(m["To"], m["Subject"].replace(fund, "FUND")) for m in smtp.messages}
    assert ("supporter@example.org", "Your card for FUND expires soon") in subjects
    assert ("erin.demo@example.org", "Your payment to FUND did not go through") in subjects
    assert (
        "fay.demo@example.org",
        "Your bank asks you to confirm your payment to FUND",
    ) in subjects
    assert ("gus.demo@example.org", "Your pledge to FUND has ended") in subjects
    with app.app_context():
        kinds = db.session.execute(select(OutboxEmail.kind, OutboxEmail.status)).all()
    assert kinds.count(("digest", "sent")) == 8
    assert ("upcoming-charge", "sent") in kinds
    # Some demo supporters read the fund in another language, and their emails come in it.
    for address, locale in demo_data.LOCALES.items():
        with app.app_context():
            assert supporters.find_by_email(address).locale == locale
        with app.test_request_context(), force_locale(locale):
            digest = gettext("What your money did in %(month)s", month="\0")
        parts = [part.strip() for part in digest.split("\0") if part.strip()]
        assert "What your money did" not in digest, locale
        assert any(to == address and all(p in s for p in parts) for to, s in subjects), locale
    # The bank's confirmation link opens the demo's card page, from the email as it is sent.
    [confirm] = [m for m in smtp.messages if m["To"] == "fay.demo@example.org"
                 and "confirm" in m["Subject"]]  # fmt: skip
    assert "http://pledges.test/demo/card/" in confirm.get_body(("plain",)).get_content()
