"""Wake the outbox relay on every insert (PostgreSQL NOTIFY; nothing on SQLite).

Revision ID: 0002
Revises: 0001
"""

from shared.messaging.outbox import create_notify_trigger, drop_notify_trigger

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from alembic import op

    create_notify_trigger(op)


def downgrade() -> None:
    from alembic import op

    drop_notify_trigger(op)
