"""The work order's further lifecycle (issue 15): extensions on demands and clocks, the daily counts of
extended, withdrawn, rejected and merged demands, and the survivor of a merged demand.

Every new count starts at 0, which is right for the rows already there: none of these events existed before.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COUNTS = ("extended", "withdrawn", "rejected", "merged")


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("timed_demands") as batch_op:
        batch_op.add_column(sa.Column("extensions", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))
    with op.batch_alter_table("clocks") as batch_op:
        batch_op.add_column(sa.Column("business_seconds_extended", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("sla_daily_counts") as batch_op:
        for name in COUNTS:
            batch_op.add_column(sa.Column(name, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("sla_daily_counts") as batch_op:
        for name in COUNTS:
            batch_op.drop_column(name)
    with op.batch_alter_table("clocks") as batch_op:
        batch_op.drop_column("business_seconds_extended")
    with op.batch_alter_table("timed_demands") as batch_op:
        batch_op.drop_column("merged_into")
        batch_op.drop_column("extensions")
