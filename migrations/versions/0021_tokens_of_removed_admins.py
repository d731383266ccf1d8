"""the API tokens of admins removed before are revoked for good

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 19:40:00

"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

tokens = sa.table(
    "api_tokens",
    sa.column("created_by_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("revoked_at", sa.DateTime(timezone=True)),
)
organizers = sa.table(
    "organizers", sa.column("id", sa.Integer), sa.column("removed_at", sa.DateTime(timezone=True))
)
audit = sa.table(
    "audit_entries",
    sa.column("action", sa.String),
    sa.column("subject", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade():
    """Removal only suspended them: an admin invited again got every token back. Those of an
    admin removed now, and those made before a removal the audit log records (of an admin
    invited back since), end."""
    removed = sa.select(organizers.c.id).where(organizers.c.removed_at.is_not(None))
    removed_after = (
        sa.select(audit.c.subject)
        .where(
            audit.c.action == "organizer.remove",
            audit.c.subject
            == sa.literal("organizer:") + sa.cast(tokens.c.created_by_id, sa.String),
            audit.c.created_at >= tokens.c.created_at,
        )
        .exists()
    )
    op.get_bind().execute(
        tokens.update()
        .where(
            tokens.c.revoked_at.is_(None),
            sa.or_(tokens.c.created_by_id.in_(removed), removed_after),
        )
        .values(revoked_at=datetime.now(UTC))
    )


def downgrade():
    """Nothing to put back: a revoked token stays revoked."""
