"""An officer's leave for a date range (issue 15 item 6): Asia/Shanghai dates, both inclusive; null = no leave.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    with op.batch_alter_table("officers") as batch_op:
        batch_op.add_column(sa.Column("leave_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("leave_until", sa.Date(), nullable=True))


def downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("officers") as batch_op:
        batch_op.drop_column("leave_until")
        batch_op.drop_column("leave_from")
