"""Migration 0005 (issue 15): the assignments already there have no extension, return or merge, and the schema
matches the models (up and down)."""

from __future__ import annotations


def test_migration_0005_matches_the_models_and_leaves_old_rows_plain(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from devstack.migrate import alembic_config
    from routing_service.model import metadata

    url = f"sqlite:///{tmp_path}/routing.db"
    command.upgrade(alembic_config("routing", url), "0004")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO assignments (demand_id, street, channel, category, complexity, title, enterprise_uscc, "
            "key_enterprise, state, is_open, rule, reported_at, updated_at, escalated, auto_escalated, "
            "reopen_count, sla) VALUES ('d-1', 'wujiaochang', 'grid', 'taxation', 'simple', 't', "
            "'91310110MA4PFF8Q3P', 0, 'acknowledged', 1, 'street_commissioner', '2026-03-02 01:00:00', "
            "'2026-03-02 01:00:00', 0, 0, 0, '{}')"))
    command.upgrade(alembic_config("routing", url), "head")
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT extension_request, extension_count, returned_by, merged_into FROM assignments")).one()
        assert tuple(row) == (None, 0, None, None)
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert differences == [], differences
    command.downgrade(alembic_config("routing", url), "0004")
    with engine.connect() as conn:
        assert "extension_count" not in {c["name"] for c in sa.inspect(conn).get_columns("assignments")}
    engine.dispose()
