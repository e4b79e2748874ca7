"""The work order's further lifecycle (issue 15): an extension request waiting for the supervisor and how many
were approved, the officers who returned the demand (routing does not give it back to them), and the
demand a merged duplicate went into.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("assignments") as batch_op:
        batch_op.add_column(sa.Column("extension_request", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("extension_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("returned_by", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.String(length=36), nullable=True))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("assignments") as batch_op:
        batch_op.drop_column("merged_into")
        batch_op.drop_column("returned_by")
        batch_op.drop_column("extension_count")
        batch_op.drop_column("extension_request")
