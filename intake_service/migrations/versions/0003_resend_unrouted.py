"""Keep each demand's submitted event id and time, and the resend sweep's back-off, with a partial index.

Demands logged before this revision have no stored event id: the sweep cannot rebuild their event and
leaves them alone (the unrouted gauge still counts them).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNROUTED = "status = 'submitted'"


def upgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_event_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("submitted_event_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resends", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("next_resend_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_demands_unrouted", ["received_at"], unique=False,
                              postgresql_where=sa.text(UNROUTED), sqlite_where=sa.text(UNROUTED))


def downgrade() -> None:
    with op.batch_alter_table("demands", schema=None) as batch_op:
        batch_op.drop_index("ix_demands_unrouted", postgresql_where=sa.text(UNROUTED),
                            sqlite_where=sa.text(UNROUTED))
        batch_op.drop_column("next_resend_at")
        batch_op.drop_column("resends")
        batch_op.drop_column("submitted_event_at")
        batch_op.drop_column("submitted_event_id")
