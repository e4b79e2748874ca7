"""Clocks follow the operators' calendar (issue 16): each clock records the calendar revision its instants were
computed with, so a new official schedule re-times every open clock exactly once.

Existing clocks start at revision 0 (the file and the library): the first entry re-times them.

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

    with op.batch_alter_table("clocks") as batch_op:
        batch_op.add_column(sa.Column("calendar_revision", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_clocks_calendar", "clocks", ["calendar_revision"],
                    postgresql_where=sa.text("next_fire_at IS NOT NULL"),
                    sqlite_where=sa.text("next_fire_at IS NOT NULL"))


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_clocks_calendar", table_name="clocks")
    with op.batch_alter_table("clocks") as batch_op:
        batch_op.drop_column("calendar_revision")
