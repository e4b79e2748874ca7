"""An officer's leave (issue 15 item 6): the pure rule, Shanghai days, and migration 0006."""

from __future__ import annotations

from datetime import UTC, date, datetime

from routing_service.domain.policy import on_leave, shanghai_today

FROM, UNTIL = date(2026, 12, 1), date(2026, 12, 5)


def test_leave_covers_its_first_and_last_day_and_nothing_outside():
    assert on_leave(FROM, UNTIL, date(2026, 12, 1))
    assert on_leave(FROM, UNTIL, date(2026, 12, 3))
    assert on_leave(FROM, UNTIL, date(2026, 12, 5))
    assert not on_leave(FROM, UNTIL, date(2026, 11, 30))
    assert not on_leave(FROM, UNTIL, date(2026, 12, 6))
    assert on_leave(FROM, FROM, FROM)  # one day


def test_no_leave_without_both_ends():
    assert not on_leave(None, None, FROM)
    assert not on_leave(FROM, None, FROM)
    assert not on_leave(None, UNTIL, FROM)


def test_the_day_is_shanghais():
    late_utc = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # 07:30 on 1 December in Shanghai
    assert shanghai_today(late_utc) == date(2026, 12, 1)
    assert on_leave(FROM, UNTIL, shanghai_today(late_utc))
    assert not on_leave(FROM, UNTIL, shanghai_today(datetime(2026, 12, 5, 16, 0, tzinfo=UTC)))  # 00:00, 6 Dec
    assert on_leave(FROM, UNTIL, shanghai_today(datetime(2026, 12, 5, 15, 59, tzinfo=UTC)))


def test_migration_0006_matches_the_models_and_leaves_officers_without_leave(tmp_path):
    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from devstack.migrate import alembic_config
    from routing_service.model import metadata

    url = f"sqlite:///{tmp_path}/routing.db"
    command.upgrade(alembic_config("routing", url), "0005")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO officers (id, name, kind, streets, skills, capacity, duty, open_count, last_assigned_seq, "
            "on_duty) VALUES ('o-1', 'n', 'street_commissioner', '[]', '[]', 1, '{}', 0, 0, 1)"))
    command.upgrade(alembic_config("routing", url), "head")
    with engine.connect() as conn:
        assert tuple(conn.execute(sa.text("SELECT leave_from, leave_until FROM officers")).one()) == (None, None)
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert differences == [], differences
    command.downgrade(alembic_config("routing", url), "0005")
    with engine.connect() as conn:
        assert "leave_from" not in {c["name"] for c in sa.inspect(conn).get_columns("officers")}
    engine.dispose()
