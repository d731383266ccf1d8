"""what chargebacks on refunded payments took a second time

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 16:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    # Unknown for disputes before this release: the next event of each, or `sync-stripe`,
    # reads them.
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("disputed_beyond_paid", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_column("disputed_beyond_paid")
