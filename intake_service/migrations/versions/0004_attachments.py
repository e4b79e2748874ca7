"""Photos and scans attached to demands, stored in the database (see intake_service.model.Attachment).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("demand_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("location_kept", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("position BETWEEN 1 AND 5", name="ck_attachments_position"),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("demand_id", "position", name="uq_attachments_position"),
    )


def downgrade() -> None:
    op.drop_table("attachments")
