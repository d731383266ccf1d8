"""organizers, audit log, disbursement reversals

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:37:49.139344

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The audit log is append-only in the database itself, not only in the app.
APPEND_ONLY = {
    "postgresql": [
        """
        CREATE FUNCTION audit_entries_append_only() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only';
        END;
        $$ LANGUAGE plpgsql
        """,
        """
        CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()
        """,
    ],
    "sqlite": [
        """
        CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
        """
        CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
    ],
}
DROP_APPEND_ONLY = {
    "postgresql": [
        "DROP TRIGGER audit_entries_append_only ON audit_entries",
        "DROP FUNCTION audit_entries_append_only()",
    ],
    "sqlite": [
        "DROP TRIGGER audit_entries_no_update",
        "DROP TRIGGER audit_entries_no_delete",
    ],
}


def upgrade():
    op.create_table(
        "organizers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_index", sa.String(length=64), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("totp_secret", sa.Text(), nullable=True),
        sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_totp_step", sa.Integer(), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('organizer', 'admin')", name=op.f("ck_organizers_role_known")),
        sa.ForeignKeyConstraint(
            ["invited_by_id"],
            ["organizers.id"],
            name=op.f("fk_organizers_invited_by_id_organizers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizers")),
        sa.UniqueConstraint("email_index", name=op.f("uq_organizers_email_index")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizers.id"],
            name=op.f("fk_audit_entries_organizer_id_organizers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_entries_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_audit_entries_organizer_id"), ["organizer_id"], unique=False
        )

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organizer_id"],
            ["organizers.id"],
            name=op.f("fk_recovery_codes_organizer_id_organizers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_recovery_codes_code_hash")),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_recovery_codes_organizer_id"), ["organizer_id"], unique=False
        )

    with op.batch_alter_table("case_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reverses_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("in_ledger", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_disbursements_reverses_id"), ["reverses_id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_disbursements_reverses_id_disbursements"),
            "disbursements",
            ["reverses_id"],
            ["id"],
        )
        batch_op.drop_constraint(batch_op.f("ck_disbursements_amount_positive"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("ck_disbursements_other_income_within_amount"), type_="check"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_disbursements_amount_signed"),
            "(reverses_id IS NULL AND amount > 0) OR (reverses_id IS NOT NULL AND amount < 0)",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_disbursements_other_income_within_amount"),
            "other_income >= 0 AND other_income <= abs(amount)",
        )

    with op.batch_alter_table("login_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organizer_id", sa.Integer(), nullable=True))
        batch_op.alter_column("supporter_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_login_tokens_organizer_id"), ["organizer_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_login_tokens_organizer_id_organizers"),
            "organizers",
            ["organizer_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_login_tokens_one_account"),
            "(supporter_id IS NULL) <> (organizer_id IS NULL)",
        )

    for statement in APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    for statement in DROP_APPEND_ONLY[op.get_bind().dialect.name]:
        op.execute(statement)
    # What only this revision's schema can hold: organizers' sign-in links and correcting
    # entries (with the reversed payments they cancel, which return to the ledger; run
    # `pledges reallocate` after downgrading).
    op.execute("DELETE FROM login_tokens WHERE organizer_id IS NOT NULL")
    op.execute("DELETE FROM disbursements WHERE reverses_id IS NOT NULL")
    op.execute("UPDATE disbursements SET in_ledger = true")
    with op.batch_alter_table("login_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_login_tokens_one_account"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_login_tokens_organizer_id_organizers"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_login_tokens_organizer_id"))
        batch_op.alter_column("supporter_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("organizer_id")

    with op.batch_alter_table("disbursements", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_disbursements_reverses_id_disbursements"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("uq_disbursements_reverses_id"), type_="unique")
        batch_op.drop_constraint(batch_op.f("ck_disbursements_amount_signed"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("ck_disbursements_other_income_within_amount"), type_="check"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_disbursements_amount_positive"), "amount > 0"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_disbursements_other_income_within_amount"),
            "other_income >= 0 AND other_income <= amount",
        )
        batch_op.drop_column("in_ledger")
        batch_op.drop_column("reverses_id")

    with op.batch_alter_table("case_updates", schema=None) as batch_op:
        batch_op.drop_column("notified_at")

    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_organizer_id"))

    op.drop_table("recovery_codes")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_entries_organizer_id"))
        batch_op.drop_index(batch_op.f("ix_audit_entries_created_at"))

    op.drop_table("audit_entries")
    op.drop_table("organizers")
