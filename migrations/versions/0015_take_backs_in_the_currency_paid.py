"""refunds and disputes kept in the currency paid too

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 14:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        for column in ("refunded_paid", "disputed_paid"):
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=False, server_default="0"))
    # Until now only the ledger's amounts were kept: in the currency paid they are what the
    # member pages showed (the same amount, or, converted back at the payment's own rate, all
    # of it when all of `gross` went back). The products in 64 bits: $600.00 of which €400.00
    # went back is 60000 * 40000, beyond PostgreSQL's integer. Only the few payments given back
    # are written: the rest keep the default 0 (a million rows rewritten took 26 s).
    op.execute(
        """
        UPDATE contributions SET
          refunded_paid = CASE
            WHEN paid_currency = currency THEN refunded
            WHEN refunded >= gross THEN paid_amount
            ELSE CAST(refunded AS BIGINT) * paid_amount / gross END,
          disputed_paid = CASE
            WHEN paid_currency = currency THEN disputed
            WHEN refunded >= gross THEN 0
            WHEN refunded + disputed >= gross
              THEN paid_amount - CAST(refunded AS BIGINT) * paid_amount / gross
            ELSE CAST(disputed AS BIGINT) * paid_amount / gross END
        WHERE refunded > 0 OR disputed > 0
        """
    )
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_contributions_withdrawn_within_paid"),
            "refunded_paid >= 0 AND disputed_paid >= 0"
            " AND refunded_paid + disputed_paid <= paid_amount",
        )


def downgrade():
    with op.batch_alter_table("contributions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_contributions_withdrawn_within_paid"), type_="check")
        batch_op.drop_column("disputed_paid")
        batch_op.drop_column("refunded_paid")
