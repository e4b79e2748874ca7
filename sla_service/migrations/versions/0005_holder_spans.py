"""Department clocks (issue 16 point 5): ``holder_spans``, each holder's period with a demand in business time.

A new table; the demands already timed get their first span at their next holder change (nothing recorded their
earlier holders): a transfer gives the time so far to its former holder (department ``unknown``), an
``assigned`` (after a return, or from the queue) to the new holder. Partial indexes over ended spans
serve the summary's per-department figures by end day (district, and per street).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ENDED = {"postgresql_where": sa.text("end_day IS NOT NULL"), "sqlite_where": sa.text("end_day IS NOT NULL")}


def upgrade() -> None:
    from alembic import op

    op.create_table(
        "holder_spans",
        sa.Column("demand_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("officer_kind", sa.String(length=32), nullable=True),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("street", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("running_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("business_seconds_used", sa.Float(), nullable=False),
        sa.Column("business_seconds_target", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_day", sa.Date(), nullable=True),
        sa.Column("end_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["demand_id"], ["timed_demands.demand_id"]),
        sa.PrimaryKeyConstraint("demand_id", "seq"),
    )
    op.create_index("ix_holder_spans_end_day", "holder_spans", ["end_day", "department"], **ENDED)
    op.create_index("ix_holder_spans_street_end_day", "holder_spans", ["street", "end_day", "department"], **ENDED)


def downgrade() -> None:
    from alembic import op

    op.drop_index("ix_holder_spans_street_end_day", table_name="holder_spans")
    op.drop_index("ix_holder_spans_end_day", table_name="holder_spans")
    op.drop_table("holder_spans")
