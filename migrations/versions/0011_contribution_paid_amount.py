"""a contribution keeps what the supporter paid, in their currency, beside the ledger's amounts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 16:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paid_amount", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paid_currency", sa.String(length=3), nullable=True))
    # Until now every payment was in the ledger's currency: what was paid is what came in.
    op.execute("UPDATE contributions SET paid_amount = gross, paid_currency = currency")
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.alter_column("paid_amount", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("paid_currency", existing_type=sa.String(length=3), nullable=False)
        batch_op.create_check_constraint(
            op.f("ck_contributions_paid_amount_positive"), "paid_amount > 0"
        )


def downgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_contributions_paid_amount_positive"), type_="check")
        batch_op.drop_column("paid_currency")
        batch_op.drop_column("paid_amount")
