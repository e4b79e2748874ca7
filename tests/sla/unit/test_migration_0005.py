"""Migration 0005 (issue 16 point 5): the holder spans' table and indexes match the model, and go away again."""

from __future__ import annotations


def test_migration_0005_creates_holder_spans_as_the_model_says(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from devstack.migrate import alembic_config
    from sla_service.model import metadata

    url = f"sqlite:///{tmp_path}/sla.db"
    command.upgrade(alembic_config("sla", url), "head")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("holder_spans")}
    assert differences == [], differences
    assert indexes == {"ix_holder_spans_end_day": ["end_day", "department"],
                       "ix_holder_spans_street_end_day": ["street", "end_day", "department"]}
    command.downgrade(alembic_config("sla", url), "0004")
    with engine.connect() as conn:
        assert "holder_spans" not in sa.inspect(conn).get_table_names()
    engine.dispose()
