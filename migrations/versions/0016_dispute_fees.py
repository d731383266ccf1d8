"""what disputes cost in fees

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 14:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    # Unknown for disputes before this release: the next event of each, or `sync-stripe`,
    # reads them.
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dispute_fees", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_column("dispute_fees")
