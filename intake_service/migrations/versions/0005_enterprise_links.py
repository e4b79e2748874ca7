"""The enterprise's private links (only each token's SHA-256), and timeline reasons routing wrote in English
turned into codes, so every page says them in its reader's language.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# intake_service.domain.policy.REASON_CODES as it was when this revision was written.
REASON_CODES = {"the resolution deadline was breached": "resolution_breached",
                "the enterprise was not satisfied": "enterprise_unsatisfied"}


def upgrade() -> None:
    op.create_table(
        "enterprise_links",
        sa.Column("demand_id", sa.String(length=36), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("issued_by", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["demand_id"], ["demands.id"]),
        sa.PrimaryKeyConstraint("demand_id"),
        sa.UniqueConstraint("token_sha256"),
    )
    timeline = sa.table("timeline", sa.column("id", sa.Integer()), sa.column("kind", sa.String()),
                        sa.column("details", sa.JSON()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(timeline.c.id, timeline.c.details)
                        .where(timeline.c.kind.in_(("escalated", "reopened")))).all()
    for row_id, details in rows:
        code = REASON_CODES.get((details or {}).get("reason"))
        if code:
            changed = {k: v for k, v in details.items() if k != "reason"} | {"reason_code": code}
            conn.execute(timeline.update().where(timeline.c.id == row_id).values(details=changed))


def downgrade() -> None:
    op.drop_table("enterprise_links")
