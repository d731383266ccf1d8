"""links to the provider's receipts and invoices are encrypted at rest

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 19:55:00

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

#: Stripe's hosted receipt and invoice pages name the donor (and their address): one click per
#: row of a stolen dump would undo the encryption of their email.
LINKS = [("contributions", "receipt_url"), ("payment_problems", "hosted_url")]
#: How every sealed value starts (a Fernet token's version and time); a link never does.
SEALED_PREFIX = "gAAAAA"


def upgrade():
    for table, column in LINKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, type_=sa.Text(), existing_nullable=True)
        _rewrite(table, column, _sealed)


def downgrade():
    for table, column in LINKS:
        _rewrite(table, column, _opened)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(column, type_=sa.String(length=1000), existing_nullable=True)


def _sealed(value: str) -> str:
    """A value sealed already stays as it is (SQLite runs a migration in no single
    transaction, so one stopped halfway may be run again)."""
    if value.startswith(SEALED_PREFIX):
        return value
    return current_app.extensions["pledges_cipher"].encrypt(value)


def _opened(value: str) -> str:
    """A link written in clear since (see `EncryptedLink`) stays as it is."""
    if not value.startswith(SEALED_PREFIX):
        return value
    return current_app.extensions["pledges_cipher"].decrypt(value)


#: Rows read and written back at a time: a fund with a million payments is rewritten in a few
#: hundred statements, with a few thousand links in memory at once.
BATCH = 5_000


def _rewrite(table: str, column: str, change) -> None:  # noqa: ANN001
    rows = sa.table(table, sa.column("id", sa.Integer), sa.column(column, sa.Text))
    write = (
        rows.update()
        .where(rows.c.id == sa.bindparam("row_id"))
        .values({column: sa.bindparam("value")})
    )
    connection = op.get_bind()
    last = 0
    while batch := connection.execute(
        sa.select(rows.c.id, rows.c[column])
        .where(rows.c[column].is_not(None), rows.c.id > last)
        .order_by(rows.c.id)
        .limit(BATCH)
    ).all():
        connection.execute(write, [{"row_id": i, "value": change(value)} for i, value in batch])
        last = batch[-1][0]
