"""refunds and disputes that reach us before the payment they take back

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 17:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "early_take_backs",
        sa.Column("charge_id", sa.String(length=255), nullable=False),
        sa.Column("refunded", sa.Integer(), nullable=False),
        sa.Column("disputed", sa.Integer(), nullable=False),
        sa.Column("noted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "refunded >= 0 AND disputed >= 0",
            name=op.f("ck_early_take_backs_amounts_not_negative"),
        ),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_early_take_backs")),
    )


def downgrade():
    op.drop_table("early_take_backs")
