"""Alerts from Alertmanager's webhook, per-user read marks, and when a demand's clock last warned (issue 18).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("alertname", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=40), nullable=True),
        sa.Column("street", sa.String(length=40), nullable=True),
        sa.Column("summary", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("runbook", sa.String(length=500), nullable=True),
        sa.Column("page", sa.String(length=200), nullable=True),
        sa.Column("generator_url", sa.String(length=2000), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_fingerprint_starts_at"),
    )
    op.create_index("ix_alerts_street_received", "alerts", ["street", "received_at"], unique=False)
    op.create_table(
        "read_marks",
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("feed", sa.String(length=32), nullable=False),
        sa.Column("seen_through", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject", "feed"),
    )
    with op.batch_alter_table("assignments") as batch_op:
        batch_op.add_column(sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("warned_clock", sa.String(length=32), nullable=True))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("assignments") as batch_op:
        batch_op.drop_column("warned_clock")
        batch_op.drop_column("warned_at")
    op.drop_table("read_marks")
    op.drop_index("ix_alerts_street_received", table_name="alerts")
    op.drop_table("alerts")
