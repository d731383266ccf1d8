from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from pledges.extensions import db
from pledges.models import Case, Contribution, Pledge, PledgeStatus
from pledges.services import supporters


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
    assert "3 cases, 5 supporters" in first.output
    assert "0 cases, 0 supporters, 0 contributions" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 3
        supporter = supporters.find_by_email("supporter@example.org")
        [pledge] = supporter.pledges
        assert pledge.status == PledgeStatus.ACTIVE
        assert len(pledge.contributions) >= 3
        assert db.session.scalar(select(func.count()).select_from(Pledge)) == 5
        total = db.session.scalar(select(func.count()).select_from(Contribution))
        assert total == sum(
            months
            for *_, months in __import__(
                "pledges.services.demo_data", fromlist=["SUPPORTERS"]
            ).SUPPORTERS
        )
