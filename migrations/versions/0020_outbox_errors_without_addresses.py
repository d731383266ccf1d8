"""the outbox's last errors no longer quote an address

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 19:20:00

"""

import sqlalchemy as sa
from alembic import op

from pledges.redaction import redact

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

outbox = sa.table("outbox_emails", sa.column("id", sa.Integer), sa.column("last_error"))


def upgrade():
    """A mail server's refusal quotes the address, and an email retried kept it in this plain
    column after it was sent, its (encrypted) recipient cleared."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(outbox.c.id, outbox.c.last_error).where(outbox.c.last_error.is_not(None))
    ).all()
    for row_id, error in rows:
        if redact(error) != error:
            connection.execute(
                outbox.update().where(outbox.c.id == row_id).values(last_error=redact(error))
            )


def downgrade():
    """Nothing to put back: the addresses are gone."""
