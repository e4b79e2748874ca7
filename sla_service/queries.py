"""SLA's read side: a demand's clocks, the compliance summary, the breach list and the monthly report.

The department figures (OLA) read the holder spans that ended in the period through the end-day indexes of
``holder_spans``. The rates' figures are read from ``sla_daily_counts`` (maintained with every clock change, see
``sla_service.repository``), so a summary sums a few rows per day instead of scanning every demand. Who
may read what is decided by :mod:`sla_service.domain.access`; a refusal is an :class:`SlaRefused`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.calendar import SHANGHAI, BusinessCalendar
from shared.contracts.reference import DEPARTMENTS
from shared.contracts.vocabulary import CLOCK_KINDS
from shared.db import UTCDateTime, unit_of_work
from shared.instants import instant_text
from shared.validation import moment_problem
from sla_service import repository
from sla_service.domain import SlaRefused
from sla_service.domain.access import report_streets, scoped_street
from sla_service.domain.compliance import CLOCK_OUTCOME, EXCLUDED_NOTE, EXCLUDED_STATES, RATE_CLOCK, rates
from sla_service.domain.holder import STREET_GROUP
from sla_service.model import COUNT_COLUMNS, ClockRow, DailyCounts, HolderSpanRow, TimedDemand

if TYPE_CHECKING:
    from sla_service.bootstrap import Context
    from sla_service.domain.policy import SlaPolicy

# A span holding the demand exactly as long as its target is on time (float sums may exceed it by a hair).
_ON_TIME_SLACK = 1e-6


@dataclass(frozen=True)
class Filters:
    """Which demands a figure counts: by street, channel, category and report days (inclusive)."""

    street: str | None = None
    channel: str | None = None
    category: str | None = None
    first_day: date | None = None
    last_day: date | None = None


# ------------------------------------------------------------------ one demand


def demand_clocks(ctx: Context, principal: Principal, demand_id: str) -> dict[str, Any]:
    """The demand's policy and clocks, with the business time used up to now (live while running)."""
    with unit_of_work(ctx.sessions) as session:
        demand = session.get(TimedDemand, demand_id)
        if demand is None:
            raise SlaRefused("not_found", f"SLA does not time demand {demand_id}")
        scoped_street(principal, demand.street)
        rows = session.scalars(select(ClockRow).where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind)).all()
    now = ctx.now()
    return {
        "demand_id": demand_id, "state": demand.state, "extensions": demand.extensions,
        "merged_into": demand.merged_into,
        "policy": {"channel": demand.channel, "complexity": demand.complexity,
                   "warning_fraction": ctx.policy.warning_fraction,
                   "seconds_per_working_day": ctx.policy.seconds_per_working_day},
        "clocks": [_clock_out(r, repository.to_clock(r).used_at(now, ctx.calendar), ctx.calendar) for r in rows],
    }


def _clock_out(r: ClockRow, used: float, calendar: BusinessCalendar) -> dict[str, Any]:
    """A clock with what pages show: business time left (negative once past), the working-time deadline as text
    parts in Asia/Shanghai (a page words it in its language, with the weekday), and what the deadline's working
    days rest on (an estimated year makes it provisional)."""
    target = r.target_at.astimezone(SHANGHAI) if r.target_at else None
    source = calendar.source_between(r.started_at.astimezone(SHANGHAI).date(), target.date()) if target else None
    return {"kind": r.kind, "status": r.status, "started_at": r.started_at, "target_at": r.target_at,
            "calendar_source": source,
            "stopped_at": r.stopped_at, "business_seconds_used": used,
            "business_seconds_target": r.business_seconds_target,
            "business_seconds_extended": r.business_seconds_extended or 0,
            "business_seconds_left": r.business_seconds_target - used,
            "deadline": {"date": target.date().isoformat(), "time": f"{target:%H:%M}",
                         "weekday": target.isoweekday()} if target else None}


# ------------------------------------------------------------------ summaries


def _where(filters: Filters, table: Any = DailyCounts, day: Any = None) -> list[Any]:
    """The filters as conditions on ``table``'s street, channel and category and on its ``day`` column (the daily
    counts' report day by default; a holder span's end day for the department figures)."""
    day = table.day if day is None else day
    conditions = []
    for name in ("street", "channel", "category"):
        value = getattr(filters, name)
        if value is not None:
            conditions.append(getattr(table, name) == value)
    if filters.first_day is not None:
        conditions.append(day >= filters.first_day)
    if filters.last_day is not None:
        conditions.append(day <= filters.last_day)
    return conditions


def _sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(DailyCounts, col)), literal(0)) for col in COUNT_COLUMNS]


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


def summary(ctx: Context, principal: Principal, filters: Filters) -> dict[str, Any]:
    """The three rates with their parts, the department figures, and the filters applied (a supervisor's
    street filled in)."""
    filters = Filters(street=scoped_street(principal, filters.street), channel=filters.channel,
                      category=filters.category, first_day=filters.first_day, last_day=filters.last_day)
    with unit_of_work(ctx.sessions) as session:
        result = summarize(session, filters)
        departments = holder_figures(session, filters, ctx.policy)
    return {"filters": {"street": filters.street, "channel": filters.channel, "category": filters.category,
                        "from": _iso(filters.first_day), "to": _iso(filters.last_day)}, **result,
            "departments": departments}


# ------------------------------------------------------------------ department clocks (OLA)


def _percentile(ordered: list[float], share: float) -> float:
    """The ``share`` percentile of ascending ``ordered`` values, interpolated as PostgreSQL's percentile_cont."""
    position = share * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def holder_figures(session: Session, filters: Filters, policy: SlaPolicy) -> list[dict[str, Any]]:
    """Per holder group (a department, or ``street``), the holder spans that *ended* on the filtered days: how
    many, the median and 90th percentile of their holding time (business seconds and working days), and how
    many of those with a target held the demand at most that long.

    Reads only the spans ended in the period (``ix_holder_spans_end_day`` / ``ix_holder_spans_street_end_day``);
    PostgreSQL computes the percentiles, SQLite (the embedded default) gets the period's durations in order.
    """
    s = HolderSpanRow
    conditions = [s.end_day.is_not(None), *_where(filters, s, s.end_day)]
    has_target = s.business_seconds_target.is_not(None)
    on_time = and_(has_target, s.business_seconds_used <= s.business_seconds_target + _ON_TIME_SLACK)
    columns = [s.department, func.count(), how_many(has_target), how_many(on_time)]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        columns += [func.percentile_cont(share).within_group(s.business_seconds_used) for share in (0.5, 0.9)]
    rows = session.execute(select(*columns).where(*conditions).group_by(s.department).order_by(s.department)).all()
    durations: dict[str, list[float]] = {}
    if not postgres:
        for department, used in session.execute(select(s.department, s.business_seconds_used).where(*conditions)
                                                .order_by(s.department, s.business_seconds_used)):
            durations.setdefault(department, []).append(used)
    day_seconds = policy.seconds_per_working_day
    figures = []
    for row in rows:
        department, spans, with_target, in_time = row[0], int(row[1]), int(row[2]), int(row[3])
        if postgres:
            median, p90 = float(row[4]), float(row[5])
        else:
            median, p90 = (_percentile(durations[department], share) for share in (0.5, 0.9))
        target = policy.holder_seconds(department)
        figures.append({
            "department": department, "department_name": _group_name(department), "spans": spans,
            "median_business_seconds": median, "p90_business_seconds": p90,
            "median_working_days": median / day_seconds, "p90_working_days": p90 / day_seconds,
            "target_business_seconds": target, "with_target": with_target, "on_time": in_time,
            "on_time_share": in_time / with_target if with_target else None,
        })
    return figures


def _group_name(group: str) -> str:
    if group in DEPARTMENTS:
        return DEPARTMENTS[group].name_zh
    return "街道" if group == STREET_GROUP else group


def monthly_departments(ctx: Context, principal: Principal, month: str) -> list[dict[str, Any]]:
    """The department figures of ``month`` (YYYY-MM, spans ended in it): a supervisor's street, or the district."""
    first, last = _month_days(month)
    filters = Filters(street=scoped_street(principal, None), first_day=first, last_day=last)
    with unit_of_work(ctx.sessions) as session:
        return holder_figures(session, filters, ctx.policy)


def _month_days(month: str) -> tuple[date, date]:
    year, number = (int(part) for part in month.split("-"))
    first = date(year, number, 1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def monthly_report(ctx: Context, principal: Principal, month: str) -> dict[str, dict[str, Any]]:
    """``month`` (YYYY-MM) per street the caller may see, plus a district ``total`` for an admin."""
    first, last = _month_days(month)
    month_filter = Filters(first_day=first, last_day=last)
    with unit_of_work(ctx.sessions) as session:
        rows = by_street(session, month_filter, report_streets(principal))
        if principal.role == "admin":
            rows["total"] = summarize(session, month_filter)
    return rows


def compliance(ctx: Context, street: str | None) -> tuple[date, dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """Today (Asia/Shanghai), the figures of ``street`` (or the district) for today, this month and all time,
    and this month's department figures (holder spans ended in it): the supervisor's compliance page."""
    today = ctx.now().astimezone(SHANGHAI).date()
    periods = (("today", today, today), ("month", today.replace(day=1), today), ("all", None, None))
    with unit_of_work(ctx.sessions) as session:
        figures = {name: summarize(session, Filters(street=street, first_day=first, last_day=last))
                   for name, first, last in periods}
        departments = holder_figures(session, Filters(street=street, first_day=today.replace(day=1), last_day=today),
                                     ctx.policy)
    return today, figures, departments


# ------------------------------------------------------------------ the demands behind a rate


def how_many(condition: Any) -> Any:
    """How many rows meet ``condition`` (0 when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), literal(0))


def rate_demands(ctx: Context, principal: Principal, filters: Filters, rate: str, outcome: str | None = None,
                 limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """The demands a rate of :func:`summary` counts with the same filters: ``met`` (its numerator) and
    ``missed`` (the rest of its denominator), missed first, then newest report first. ``met`` and
    ``met`` + ``missed`` equal the summary's numerator and denominator, so a drill-down never disagrees;
    withdrawn, rejected and merged demands are in neither, and are counted apart as the summary does."""
    street = scoped_street(principal, filters.street)
    d = TimedDemand
    clock_kind = RATE_CLOCK.get(rate)
    if clock_kind is None:  # the resolution rate counts closed demands: outcome "resolved", or any other
        entities: tuple[Any, ...] = (d,)
        met = and_(d.closed_at.is_not(None), d.outcome == "resolved")
        missed = and_(d.closed_at.is_not(None), or_(d.outcome.is_(None), d.outcome != "resolved"))
    else:
        entities = (d, ClockRow)
        met, missed = (ClockRow.status == CLOCK_OUTCOME[name] for name in ("met", "missed"))
    conditions = [d.street == street] if street is not None else []
    for column, value in ((d.channel, filters.channel), (d.category, filters.category)):
        if value is not None:
            conditions.append(column == value)
    if filters.first_day is not None:
        conditions.append(d.report_day >= filters.first_day)
    if filters.last_day is not None:
        conditions.append(d.report_day <= filters.last_day)
    set_apart = [how_many(d.state == state) for state in EXCLUDED_STATES]
    outside = select(*set_apart).select_from(d).where(*conditions)
    conditions.append(d.state.not_in(EXCLUDED_STATES))

    def counted(*columns: Any) -> Any:
        stmt = select(*columns).select_from(d)
        if clock_kind is not None:
            stmt = stmt.join(ClockRow, and_(ClockRow.demand_id == d.demand_id, ClockRow.kind == clock_kind))
        return stmt.where(*conditions)

    chosen = {"met": met, "missed": missed, None: or_(met, missed)}[outcome]
    with unit_of_work(ctx.sessions) as session:
        met_count, missed_count = (int(n) for n in session.execute(counted(how_many(met), how_many(missed))).one())
        apart = dict(zip(EXCLUDED_STATES, (int(n) for n in session.execute(outside).one()), strict=True))
        rows = session.execute(counted(*entities).where(chosen)
                               .order_by(case((missed, 0), else_=1), d.reported_at.desc(), d.demand_id.desc())
                               .limit(limit).offset(offset)).all()
    total = {"met": met_count, "missed": missed_count, None: met_count + missed_count}[outcome]
    return {
        "rate": rate, "outcome": outcome,
        "filters": {"street": street, "channel": filters.channel, "category": filters.category,
                    "from": _iso(filters.first_day), "to": _iso(filters.last_day)},
        "met": met_count, "missed": missed_count,
        **apart, "excluded": sum(apart.values()), "excluded_note": EXCLUDED_NOTE,
        "items": [_rate_item(row[0], row[1] if len(row) > 1 else None) for row in rows],
        "next_offset": offset + limit if offset + limit < total else None,
    }


def _rate_item(demand: TimedDemand, clock: ClockRow | None) -> dict[str, Any]:
    if clock is None:
        counted_as = "met" if demand.outcome == "resolved" else "missed"
        return {"demand_id": demand.demand_id, "street": demand.street, "channel": demand.channel,
                "category": demand.category, "key_enterprise": demand.key_enterprise,
                "reported_at": demand.reported_at, "counted_as": counted_as, "deadline_passed_at": None,
                "ended_at": demand.closed_at, "resolution_outcome": demand.outcome}
    return {"demand_id": demand.demand_id, "street": demand.street, "channel": demand.channel,
            "category": demand.category, "key_enterprise": demand.key_enterprise,
            "reported_at": demand.reported_at, "counted_as": "met" if clock.status == "met" else "missed",
            "deadline_passed_at": clock.breached_at, "ended_at": clock.stopped_at, "resolution_outcome": None}


# ------------------------------------------------------------------ breaches, a page at a time


def breaches(ctx: Context, principal: Principal, filters: Filters, kind: str | None = None,
             key_enterprise: bool | None = None, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
    """Breached clocks, newest breach first; ``filters``' days select when the clocks reached their
    targets; ``next_cursor`` continues after the last item (None on the last page)."""
    street = scoped_street(principal, filters.street)
    c, d = ClockRow, TimedDemand
    stmt = select(c, d).join(d, d.demand_id == c.demand_id).where(c.breached_at.is_not(None))
    if street is not None:
        stmt = stmt.where(c.street == street)
    for column, value in ((d.channel, filters.channel), (d.category, filters.category), (c.kind, kind),
                          (d.key_enterprise, key_enterprise)):
        if value is not None:
            stmt = stmt.where(column == value)
    if filters.first_day:
        stmt = stmt.where(c.breached_at >= _day_start(filters.first_day))
    if filters.last_day:
        stmt = stmt.where(c.breached_at < _day_start(filters.last_day + timedelta(days=1)))
    if cursor:
        at, demand_id, after_kind = _decode_cursor(cursor)
        stmt = stmt.where(tuple_(c.breached_at, c.demand_id, c.kind)
                          < tuple_(literal(at, UTCDateTime()), literal(demand_id), literal(after_kind)))
    stmt = stmt.order_by(c.breached_at.desc(), c.demand_id.desc(), c.kind.desc()).limit(limit + 1)
    with unit_of_work(ctx.sessions) as session:
        rows = session.execute(stmt).all()
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [{"demand_id": r.demand_id, "kind": r.kind, "street": dem.street, "channel": dem.channel,
                   "category": dem.category, "key_enterprise": dem.key_enterprise, "breached_at": r.breached_at,
                   "stopped_at": r.stopped_at, "business_seconds_target": r.business_seconds_target}
                  for r, dem in page],
        "next_cursor": _encode_cursor(page[-1][0]) if more else None,
    }


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def _encode_cursor(row: ClockRow) -> str:
    raw = json.dumps([instant_text(row.breached_at), row.demand_id, row.kind]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    """The position a cursor stands for (refused as invalid if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, demand_id, kind = json.loads(raw)
        position = datetime.fromisoformat(at)
        if moment_problem(position) or not isinstance(demand_id, str) or kind not in CLOCK_KINDS:
            raise ValueError("not a cursor")
    except (ValueError, TypeError):
        raise SlaRefused("invalid", "some fields are invalid; see errors",
                         {"cursor": ["not a cursor returned by this API"]}) from None
    return position, demand_id, kind
