"""a disbursement form is recorded once; the audit log cannot be truncated

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 11:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_disbursements_request_key"), ["request_key"]
        )
    if op.get_bind().dialect.name == "postgresql":
        # Row triggers do not see TRUNCATE; a statement trigger does.
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_entries_no_truncate ON audit_entries")
    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_disbursements_request_key"), type_="unique")
        batch_op.drop_column("request_key")
