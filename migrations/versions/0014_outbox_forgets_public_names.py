"""the confirmation of a public name no longer keeps the name in the outbox

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

outbox = sa.table(
    "outbox_emails", sa.column("id", sa.Integer), sa.column("kind"), sa.column("context", sa.JSON)
)


def upgrade():
    """A name typed before this release sits in plain JSON, even after the account is erased:
    the email reads it from the (encrypted) supporter when it is sent instead."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(outbox.c.id, outbox.c.context).where(outbox.c.kind == "account-changed")
    ).all()
    for row_id, context in rows:
        if "name" in (context or {}):
            kept = {key: value for key, value in context.items() if key != "name"}
            connection.execute(outbox.update().where(outbox.c.id == row_id).values(context=kept))


def downgrade():
    """Nothing to put back: the names are gone, and the emails read them elsewhere."""
