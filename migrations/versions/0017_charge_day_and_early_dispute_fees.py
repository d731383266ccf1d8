"""the day a pledge is charged on; a dispute noted before its payment keeps its fee

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:10:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("charge_day", sa.SmallInteger(), nullable=True))
    with op.batch_alter_table("early_take_backs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispute_fees", sa.Integer(), nullable=False, server_default="0")
        )
    # A demo pledge is charged on the day it started. A Stripe pledge learns its day from its
    # subscription's anchor at its next event, or the next `sync-stripe`: the moment we
    # recorded its start may be a day after Stripe's.
    day = (
        "EXTRACT(DAY FROM activated_at AT TIME ZONE 'UTC')"
        if op.get_bind().dialect.name == "postgresql"
        else "CAST(strftime('%d', activated_at) AS INTEGER)"
    )
    op.execute(
        f"UPDATE pledges SET charge_day = {day}"
        " WHERE provider = 'demo' AND activated_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table("early_take_backs", schema=None) as batch_op:
        batch_op.drop_column("dispute_fees")
    with op.batch_alter_table("pledges", schema=None) as batch_op:
        batch_op.drop_column("charge_day")
