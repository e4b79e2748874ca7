"""The operators' official schedules in the platform store: enter a year, read what is in force.

The working calendar belongs to no one service (intake's pages, routing's and SLA's clocks all count in it), so
its entries live in the platform's store beside accounts and the audit (:data:`shared.auth_store.calendar_entries`).
An entry is never changed: entering a year again appends a newer revision, so the history of who entered what
and when stays, and every process follows the latest revision (:meth:`shared.calendar.BusinessCalendar.refresh`).
Each entry also writes an ``calendar.enter`` audit row in the same transaction.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from sqlalchemy import Engine, func, insert, select, text

from shared import audit
from shared.auth_store import calendar_entries, ensure_schema, open_engine
from shared.calendar import YearSchedule, check_schedule

_LOCK_KEY = 0x59_43_41_4C  # the advisory lock serializing entries on PostgreSQL ("YCAL")


def _schedule(row: object) -> YearSchedule:
    return YearSchedule(
        year=row.year, holidays=frozenset(date.fromisoformat(d) for d in row.holidays),
        workdays=frozenset(date.fromisoformat(d) for d in row.workdays), entered_by=row.entered_by,
        entered_at=datetime.fromtimestamp(row.entered_at, UTC), revision=row.revision,
    )


class CalendarStore:
    """Reads and appends ``calendar_entries`` (a :class:`shared.calendar.ScheduleSource`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> CalendarStore:
        """The store at ``url`` (``AUTH_DATABASE_URL``), its tables created if missing."""
        engine = open_engine(url)
        ensure_schema(engine)
        return cls(engine)

    def revision(self) -> int:
        """The latest revision (0: nothing entered yet)."""
        with self.engine.connect() as conn:
            return conn.scalar(select(func.coalesce(func.max(calendar_entries.c.revision), 0)))

    def schedules(self) -> tuple[int, dict[int, YearSchedule]]:
        """The latest revision and each year's latest entry, read in one transaction."""
        t = calendar_entries
        latest = select(t.c.year, func.max(t.c.revision).label("revision")).group_by(t.c.year).subquery()
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).join(latest, t.c.revision == latest.c.revision)).all()
        schedules = {row.year: _schedule(row) for row in rows}
        return max((s.revision for s in schedules.values()), default=0), schedules

    def history(self, year: int) -> list[YearSchedule]:
        """Every entry of ``year``, newest first."""
        t = calendar_entries
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.year == year).order_by(t.c.revision.desc())).all()
        return [_schedule(row) for row in rows]

    def enter(self, year: int, holidays: list[date], workdays: list[date], actor: str) -> YearSchedule:
        """Append ``year``'s official schedule (checked: ScheduleError names the field) and audit it."""
        check_schedule(year, holidays, workdays)
        days = {"holidays": sorted(d.isoformat() for d in holidays),
                "workdays": sorted(d.isoformat() for d in workdays)}
        t = calendar_entries
        with self.engine.begin() as conn:
            # Entries are serialized, so revisions are taken and committed in the same order: on SQLite every
            # transaction begins IMMEDIATE (shared.db), on PostgreSQL this transaction-scoped lock does it.
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            previous = conn.execute(select(t).where(t.c.year == year).order_by(t.c.revision.desc()).limit(1)).first()
            revision = conn.scalar(select(func.coalesce(func.max(t.c.revision), 0))) + 1
            now = int(time.time())
            conn.execute(insert(t).values(revision=revision, year=year, entered_by=actor[:200], entered_at=now, **days))
            before = None if previous is None else {"holidays": previous.holidays, "workdays": previous.workdays}
            audit.record(conn, actor, "calendar.enter", str(year), before, days, at=now)
        return YearSchedule(year, frozenset(holidays), frozenset(workdays), actor[:200],
                            datetime.fromtimestamp(now, UTC), revision)
