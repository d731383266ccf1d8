"""earmark changes: a payment recorded late keeps the earmark it was paid under

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 18:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    # No history before this release: payments recorded from now on take the pledge's earmark
    # as before unless it is moved after they were paid.
    op.create_table(
        "earmark_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pledge_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id_before", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id_before"],
            ["cases.id"],
            name=op.f("fk_earmark_changes_case_id_before_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["pledge_id"], ["pledges.id"], name=op.f("fk_earmark_changes_pledge_id_pledges")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_earmark_changes")),
    )
    with op.batch_alter_table("earmark_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_earmark_changes_pledge_id"), ["pledge_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("earmark_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_earmark_changes_pledge_id"))
    op.drop_table("earmark_changes")
