"""The officers' lists: the enterprise's name on each assignment (from demand.submitted; null on older rows),
and an index for an officer's resolved and closed demands, most recent first.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("assignments") as batch_op:
        batch_op.add_column(sa.Column("enterprise_name", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_assignments_officer_state", ["officer_id", "state", "updated_at"], unique=False)


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("assignments") as batch_op:
        batch_op.drop_index("ix_assignments_officer_state")
        batch_op.drop_column("enterprise_name")
