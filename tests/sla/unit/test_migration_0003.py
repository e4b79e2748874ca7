"""Migration 0003 (issue 15): the rows already there count nothing new, and the schema matches the models."""

from __future__ import annotations

from datetime import date


def test_migration_0003_adds_zero_counts_and_matches_the_models(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from devstack.migrate import alembic_config
    from sla_service.model import metadata

    url = f"sqlite:///{tmp_path}/sla.db"
    command.upgrade(alembic_config("sla", url), "0002")
    engine = sa.create_engine(url)
    counts = sa.table("sla_daily_counts", *(sa.column(c) for c in (
        "day", "street", "channel", "category", "demands", "first_response_met", "first_response_breached",
        "resolution_met", "resolution_breached", "closed", "closed_resolved")))
    with engine.begin() as conn:
        conn.execute(counts.insert().values(day=date(2026, 3, 2), street="dinghai", channel="grid",
                                            category="taxation", demands=2, first_response_met=1,
                                            first_response_breached=0, resolution_met=1, resolution_breached=0,
                                            closed=1, closed_resolved=1))
    command.upgrade(alembic_config("sla", url), "head")
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT demands, extended, withdrawn, rejected, merged FROM sla_daily_counts"))
        assert row.one() == (2, 0, 0, 0, 0)
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert differences == [], differences
    command.downgrade(alembic_config("sla", url), "0002")
    with engine.connect() as conn:
        assert "extended" not in {c["name"] for c in sa.inspect(conn).get_columns("sla_daily_counts")}
    engine.dispose()
