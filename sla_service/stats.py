"""The numbers supervisors are judged by, kept as daily counts so a summary never scans every demand.

Definitions (the summary, the monthly report and the tests use these):

* **first-response compliance** = first-response clocks ``met`` / clocks ``met`` or ``breached``. A clock
  past its target counts as breached as soon as the breach fires, even before anyone answers; a clock
  still running within its target is not counted yet.
* **on-time resolution rate** = resolution clocks ``met`` / ``met`` or ``breached`` (same rule; a reopened
  clock leaves the counts until it stops again, unless it had already breached).
* **resolution rate** = demands *closed* with outcome ``resolved`` / all *closed* demands, where a demand
  is closed from its ``resolved`` event (any outcome) -- or its ``closed`` event if it was closed without
  one -- until it is reopened.

Every demand contributes one vector of 0/1 values to the row of its report day (Asia/Shanghai), street,
channel and category. A handler or the timer takes the vector before and after its change and adds the
difference in the same transaction, so the counts always equal what a recount would give
(:func:`rebuild_counts` is that recount, for operators and tests).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from shared.calendar import SHANGHAI
from sla_service.context import COMPLIANCE_TARGET
from sla_service.model import COUNT_COLUMNS, ClockRow, DailyCounts, TimedDemand

Vector = tuple[int, ...]  # one value per COUNT_COLUMNS entry
BucketKey = tuple[date, str, str, str]  # day, street, channel, category


def report_day(reported_at: datetime) -> date:
    """The day a demand is counted under: its report date in Asia/Shanghai."""
    return reported_at.astimezone(SHANGHAI).date()


def contribution(demand: TimedDemand, statuses: Mapping[str, str]) -> Vector:
    """What one demand adds to its daily row, given its clocks' statuses by kind."""
    first, resolution = statuses.get("first_response"), statuses.get("resolution")
    closed = demand.closed_at is not None
    return (
        1,
        int(first == "met"),
        int(first == "breached"),
        int(resolution == "met"),
        int(resolution == "breached"),
        int(closed),
        int(closed and demand.outcome == "resolved"),
    )


def bucket(demand: TimedDemand) -> BucketKey:
    return (demand.report_day, demand.street, demand.channel, demand.category)


class CountChanges:
    """Differences collected during one transaction, written in key order (no deadlock between workers)."""

    def __init__(self) -> None:
        self._pending: dict[BucketKey, list[int]] = {}

    def add(self, demand: TimedDemand, before: Vector, after: Vector) -> None:
        if before == after:
            return
        row = self._pending.setdefault(bucket(demand), [0] * len(COUNT_COLUMNS))
        for i, (old, new) in enumerate(zip(before, after, strict=True)):
            row[i] += new - old

    def apply(self, session: Session) -> None:
        table = DailyCounts.__table__
        dialect = session.get_bind().dialect.name
        make_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for key in sorted(self._pending):
            values = dict(zip(COUNT_COLUMNS, self._pending[key], strict=True))
            if not any(values.values()):
                continue
            day, street, channel, category = key
            stmt = make_insert(table).values(day=day, street=street, channel=channel, category=category, **values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["day", "street", "channel", "category"],
                set_={c: table.c[c] + stmt.excluded[c] for c in COUNT_COLUMNS},
            )
            session.execute(stmt)
        self._pending.clear()


def rebuild_counts(session: Session) -> int:
    """Recompute every daily row from the demands and clocks; returns the number of rows written."""
    first = aliased(ClockRow)
    resolution = aliased(ClockRow)
    d = TimedDemand
    closed = d.closed_at.is_not(None)

    def flag(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    query = (
        select(
            d.report_day, d.street, d.channel, d.category,
            func.count(),
            flag(first.status == "met"), flag(first.status == "breached"),
            flag(resolution.status == "met"), flag(resolution.status == "breached"),
            flag(closed), flag(and_(closed, d.outcome == "resolved")),
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


@dataclass(frozen=True)
class Filters:
    street: str | None = None
    channel: str | None = None
    category: str | None = None
    first_day: date | None = None
    last_day: date | None = None


def _where(filters: Filters) -> list[Any]:
    c = DailyCounts
    conditions = []
    for column, value in ((c.street, filters.street), (c.channel, filters.channel), (c.category, filters.category)):
        if value is not None:
            conditions.append(column == value)
    if filters.first_day is not None:
        conditions.append(c.day >= filters.first_day)
    if filters.last_day is not None:
        conditions.append(c.day <= filters.last_day)
    return conditions


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(DailyCounts, col)), literal(0)) for col in COUNT_COLUMNS]


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    """A rate with its parts; ``rate`` is null when nothing was counted yet."""
    rate = numerator / denominator if denominator else None
    return {"numerator": numerator, "denominator": denominator, "rate": rate, "target": COMPLIANCE_TARGET,
            "meets_target": None if rate is None else rate >= COMPLIANCE_TARGET}


def rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """The three rates from summed counts."""
    return {
        "demands": counts["demands"],
        "first_response_compliance": ratio(
            counts["first_response_met"], counts["first_response_met"] + counts["first_response_breached"]),
        "on_time_resolution_rate": ratio(
            counts["resolution_met"], counts["resolution_met"] + counts["resolution_breached"]),
        "resolution_rate": ratio(counts["closed_resolved"], counts["closed"]),
    }


def summarize(session: Session, filters: Filters) -> dict[str, Any]:
    """Counts and rates of the demands reported in the filtered days, streets, channels and categories."""
    row = session.execute(select(*_sums()).where(*_where(filters))).one()
    return rates({col: int(value) for col, value in zip(COUNT_COLUMNS, row, strict=True)})


def by_street(session: Session, filters: Filters, streets: Iterable[str]) -> dict[str, dict[str, Any]]:
    """:func:`summarize` per street (every street listed, zeros included), for the monthly report."""
    rows = session.execute(
        select(DailyCounts.street, *_sums()).where(*_where(filters)).group_by(DailyCounts.street)
    ).all()
    found = {row[0]: {col: int(v) for col, v in zip(COUNT_COLUMNS, row[1:], strict=True)} for row in rows}
    empty = dict.fromkeys(COUNT_COLUMNS, 0)
    return {street: rates(found.get(street, empty)) for street in streets}


def main() -> None:
    """``python -m sla_service.stats --rebuild``: recount the daily rows from the clocks."""
    from shared.config import Settings
    from shared.db import make_engine, session_factory, unit_of_work
    from sla_service.model import metadata

    parser = argparse.ArgumentParser(description="Maintenance of SLA's daily counts.")
    parser.add_argument("--rebuild", action="store_true", help="recompute every daily row from the clocks")
    args = parser.parse_args()
    if not args.rebuild:
        parser.error("nothing to do (use --rebuild)")
    engine = make_engine(Settings.from_env().database_url("sla"))
    with unit_of_work(session_factory(engine, metadata)) as session:
        print(f"{rebuild_counts(session)} daily rows rebuilt")
    engine.dispose()


if __name__ == "__main__":
    main()
