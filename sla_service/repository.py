"""SLA's rows: locks in one order, the one Clock <-> ClockRow mapping, and the daily counts.

Lock order, the same everywhere so two workers never deadlock: clock rows, then the demand row, then
the daily-count rows in key order; a demand's holder spans are only written under its clock rows' lock.
The timer skips locked clocks instead of waiting for them.

The daily counts (``sla_daily_counts``) are maintained, not computed: a change takes the demand's
contribution before and after (:func:`sla_service.domain.compliance.contribution`) and adds the
difference in the same transaction (:class:`CountChanges`), so the counts always equal what a recount
would give (:func:`rebuild_counts` is that recount, for operators and tests).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, and_, case, delete, func, insert, select
from sqlalchemy.orm import Session, aliased

from shared.calendar import BusinessCalendar
from shared.db import before_commit, insert_on_conflict
from sla_service.domain.clock import Clock
from sla_service.domain.compliance import EXCLUDED_STATES, Vector, report_day
from sla_service.domain.holder import HolderSpan
from sla_service.model import COUNT_COLUMNS, ClockRow, DailyCounts, HolderSpanRow, TimedDemand

BucketKey = tuple[date, str, str, str]  # day, street, channel, category

# ------------------------------------------------------------------ the clock mapping


def to_clock(row: ClockRow) -> Clock:
    """The domain clock a row stores."""
    return Clock(
        kind=row.kind, business_seconds_target=row.business_seconds_target, started_at=row.started_at,
        business_seconds_used=row.business_seconds_used, running_since=row.running_since, status=row.status,
        stopped_at=row.stopped_at, warned=row.warned, breach_emitted=row.breach_emitted,
        business_seconds_extended=row.business_seconds_extended or 0,
    )


def store_clock(row: ClockRow, clock: Clock, calendar: BusinessCalendar, warning_fraction: float) -> None:
    """Write ``clock`` into ``row``, with the instants the row keeps for the timer and the breach list."""
    row.status = clock.status
    row.business_seconds_used = clock.business_seconds_used
    row.running_since = clock.running_since
    row.stopped_at = clock.stopped_at
    row.warned = clock.warned
    row.breach_emitted = clock.breach_emitted
    row.business_seconds_target = clock.business_seconds_target
    row.business_seconds_extended = clock.business_seconds_extended
    # The instant the target is (or was) reached: fixed once breached, unknown while paused or met -- except
    # that a running clock an extension moved past its breach shows its new target (the breach stays).
    row.target_at = clock.target_at(calendar) if clock.target_ahead else row.breached_at or clock.target_at(calendar)
    row.next_fire_at = clock.next_fire_at(calendar, warning_fraction)
    row.calendar_revision = calendar.revision


def new_clock_row(demand: TimedDemand, clock: Clock, calendar: BusinessCalendar, warning_fraction: float) -> ClockRow:
    """The row of a clock just started (``street`` and ``reported_at`` repeat the demand's, for the indexes)."""
    row = ClockRow(demand_id=demand.demand_id, kind=clock.kind, street=demand.street,
                   reported_at=demand.reported_at, business_seconds_target=clock.business_seconds_target,
                   started_at=clock.started_at, breached_at=None)
    store_clock(row, clock, calendar, warning_fraction)
    return row


# ------------------------------------------------------------------ holder spans (department clocks)


def to_span(row: HolderSpanRow) -> HolderSpan:
    """The domain span a row stores."""
    return HolderSpan(officer_id=row.officer_id, officer_kind=row.officer_kind, department=row.department,
                      started_at=row.started_at, business_seconds_used=row.business_seconds_used,
                      running_since=row.running_since, ended_at=row.ended_at, end_reason=row.end_reason)


def store_span(row: HolderSpanRow, span: HolderSpan) -> None:
    """Write ``span``'s changing fields into ``row`` (and the Asia/Shanghai day it ended, for the figures)."""
    row.business_seconds_used = span.business_seconds_used
    row.running_since = span.running_since
    row.ended_at = span.ended_at
    row.end_reason = span.end_reason
    row.end_day = report_day(span.ended_at) if span.ended_at is not None else None


def new_span_row(demand: TimedDemand, seq: int, span: HolderSpan, target: int | None) -> HolderSpanRow:
    """The row of a span just started: the demand's facts repeated for the figures' filters."""
    row = HolderSpanRow(demand_id=demand.demand_id, seq=seq, officer_id=span.officer_id,
                        officer_kind=span.officer_kind, department=span.department, street=demand.street,
                        channel=demand.channel, category=demand.category, started_at=span.started_at,
                        business_seconds_target=target)
    store_span(row, span)
    return row


def current_span(session: Session, demand_id: str) -> HolderSpanRow | None:
    """The demand's latest span (the open one, if any); the caller holds the demand's clock rows' lock."""
    return session.scalars(select(HolderSpanRow).where(HolderSpanRow.demand_id == demand_id)
                           .order_by(HolderSpanRow.seq.desc()).limit(1)).first()


# ------------------------------------------------------------------ demands and their clocks


def new_demand(session: Session, facts: dict[str, Any], key_enterprise: bool) -> TimedDemand:
    """Add an open demand from a ``submitted`` or ``assigned`` event's facts."""
    demand = TimedDemand(
        demand_id=facts["demand_id"], street=facts["street"], channel=facts["channel"], category=facts["category"],
        complexity=facts["complexity"], key_enterprise=key_enterprise, reported_at=facts["reported_at"],
        report_day=report_day(facts["reported_at"]), state="open",
    )
    session.add(demand)
    session.flush()  # the demand row first: the clocks reference it
    return demand


def lock_clocks(session: Session, demand_id: str) -> tuple[TimedDemand, list[ClockRow]] | None:
    """The demand and its clock rows, the clocks locked until commit (FOR UPDATE OF clocks on PostgreSQL; SQLite
    locks the file), in one statement; None when SLA does not time it."""
    rows = session.execute(
        select(ClockRow, TimedDemand).join(TimedDemand, TimedDemand.demand_id == ClockRow.demand_id)
        .where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind).with_for_update(of=ClockRow)
    ).all()
    return (rows[0][1], [clock for clock, _ in rows]) if rows else None


def lock_due_clocks(session: Session, now: datetime, limit: int) -> Sequence[Row[ClockRow, TimedDemand]]:
    """At most ``limit`` clocks due by ``now``, oldest first, with their demands; locked, skipping those
    another worker holds (``FOR UPDATE OF clocks SKIP LOCKED`` on PostgreSQL, through ``ix_clocks_due``)."""
    return session.execute(
        select(ClockRow, TimedDemand)
        .join(TimedDemand, TimedDemand.demand_id == ClockRow.demand_id)
        .where(ClockRow.next_fire_at <= now)
        .order_by(ClockRow.next_fire_at)
        .limit(limit)
        .with_for_update(of=ClockRow, skip_locked=True)
    ).all()


def lock_clocks_to_retime(session: Session, revision: int, limit: int) -> Sequence[Row[ClockRow, TimedDemand]]:
    """At most ``limit`` clocks that can still fire whose instants an older calendar revision computed, with their
    demands; locked, skipping those another worker holds (through ``ix_clocks_calendar``)."""
    return session.execute(
        select(ClockRow, TimedDemand)
        .join(TimedDemand, TimedDemand.demand_id == ClockRow.demand_id)
        .where(ClockRow.next_fire_at.is_not(None), ClockRow.calendar_revision < revision)
        .limit(limit)
        .with_for_update(of=ClockRow, skip_locked=True)
    ).all()


# ------------------------------------------------------------------ daily counts


def bucket(demand: TimedDemand) -> BucketKey:
    return (demand.report_day, demand.street, demand.channel, demand.category)


COUNTS = "sla_count_changes"  # the session's CountChanges, written just before its transaction commits


class CountChanges:
    """Differences collected during one transaction, written in key order (no deadlock between workers)."""

    def __init__(self) -> None:
        self._pending: dict[BucketKey, list[int]] = {}

    @classmethod
    def of(cls, session: Session) -> CountChanges:
        """The transaction's differences: a batch of 100 events about demands of one day, street, channel and
        category adds up to one upsert at commit, not 100."""
        return before_commit(session, COUNTS, cls, lambda s, changes: changes.apply(s))

    def add(self, demand: TimedDemand, before: Vector, after: Vector) -> None:
        if before == after:
            return
        row = self._pending.setdefault(bucket(demand), [0] * len(COUNT_COLUMNS))
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            row[i] += new - old

    def apply(self, session: Session) -> None:
        rows = [{"day": day, "street": street, "channel": channel, "category": category,
                 **dict(zip(COUNT_COLUMNS, self._pending[(day, street, channel, category)], strict=True))}
                for day, street, channel, category in sorted(self._pending)
                if any(self._pending[(day, street, channel, category)])]
        self._pending.clear()
        if rows:
            session.execute(_add_counts(session.get_bind().dialect.name), rows)


@functools.cache
def _add_counts(dialect: str) -> Any:
    """The upsert adding a difference to its daily row: built once, executed with every row of a commit."""
    table = DailyCounts.__table__
    stmt = insert_on_conflict(dialect, table)
    return stmt.on_conflict_do_update(index_elements=["day", "street", "channel", "category"],
                                      set_={c: table.c[c] + stmt.excluded[c] for c in COUNT_COLUMNS})


def rebuild_counts(session: Session) -> int:
    """Recompute every daily row from the demands and clocks; returns the number of rows written."""
    first = aliased(ClockRow)
    resolution = aliased(ClockRow)
    d = TimedDemand
    counted = d.state.not_in(EXCLUDED_STATES)
    closed = and_(counted, d.closed_at.is_not(None))

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            d.report_day, d.street, d.channel, d.category,
            flag(counted),
            flag(and_(counted, first.status == "met")), flag(and_(counted, first.status == "breached")),
            flag(and_(counted, resolution.status == "met")), flag(and_(counted, resolution.status == "breached")),
            flag(closed), flag(and_(closed, d.outcome == "resolved")),
            flag(and_(counted, d.extensions > 0)),
            *(flag(d.state == state) for state in EXCLUDED_STATES),
        )
        .select_from(d)
        .outerjoin(first, and_(first.demand_id == d.demand_id, first.kind == "first_response"))
        .outerjoin(resolution, and_(resolution.demand_id == d.demand_id, resolution.kind == "resolution"))
        .group_by(d.report_day, d.street, d.channel, d.category)
    )
    session.execute(delete(DailyCounts))
    columns = ["day", "street", "channel", "category", *COUNT_COLUMNS]
    session.execute(insert(DailyCounts).from_select(columns, query))
    return session.scalar(select(func.count()).select_from(DailyCounts))
