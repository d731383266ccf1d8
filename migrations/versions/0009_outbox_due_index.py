"""the mail worker finds due emails by a partial index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 13:29:33.583695

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_emails_next_attempt_at"))
        batch_op.create_index(
            "ix_outbox_emails_due",
            ["next_attempt_at", "id"],
            unique=False,
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )


def downgrade():
    with op.batch_alter_table("outbox_emails", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_emails_due",
            postgresql_where=sa.text("status = 'queued'"),
            sqlite_where=sa.text("status = 'queued'"),
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_emails_next_attempt_at"), ["next_attempt_at"], unique=False
        )
