"""An officer's office phone, shown to grid workers and the enterprise on their demand's page.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    op.add_column("officers", sa.Column("phone", sa.String(length=40), nullable=True))


def downgrade() -> None:
    from alembic import op

    op.drop_column("officers", "phone")
