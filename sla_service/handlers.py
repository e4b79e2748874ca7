"""SLA follows the demand lifecycle: opens, pauses, resumes and stops clocks, and says so on sla.events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.calendar import load_calendar
from shared.config import Settings
from shared.consumer import Handler
from shared.events import CloudEvent, new_event
from shared.outbox import emit
from sla_service.model import ClockRow, TimedDemand
from sla_service.policy import Clock, load_policy

_settings = Settings.from_env()
CALENDAR = load_calendar(_settings.calendar_overrides_path)
POLICY = load_policy(_settings.sla_policy_path, CALENDAR.seconds_per_working_day)


def save_clock(session: Session, demand: TimedDemand, clock: Clock, row: ClockRow | None = None) -> ClockRow:
    """Persist a clock with its next timer deadline and announce its new shape."""
    row = row or ClockRow(demand_id=demand.demand_id, kind=clock.kind)
    row.status = clock.status
    row.business_seconds_target = clock.business_seconds_target
    row.business_seconds_used = clock.business_seconds_used
    row.started_at = clock.started_at
    row.running_since = clock.running_since
    row.stopped_at = clock.stopped_at
    row.target_at = clock.target_at(CALENDAR)
    row.warned = clock.warned
    row.breach_emitted = clock.breach_emitted
    row.next_fire_at = clock.next_fire_at(CALENDAR, POLICY.warning_fraction)
    session.add(row)
    emit(session, clock_event("yangpu.sla.clock_updated.v1", demand, row))
    return row


def clock_event(type_: str, demand: TimedDemand, row: ClockRow) -> CloudEvent:
    return new_event(type_, {
        "demand_id": demand.demand_id, "street": demand.street, "channel": demand.channel,
        "category": demand.category, "kind": row.kind, "status": row.status, "target_at": row.target_at,
        "business_seconds_used": row.business_seconds_used,
        "business_seconds_target": row.business_seconds_target, "key_enterprise": demand.key_enterprise,
        "at": datetime.now(UTC),
    }, source="/sla")


def _submitted(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    if session.get(TimedDemand, data["demand_id"]) is not None:
        return
    demand = TimedDemand(
        demand_id=data["demand_id"], street=data["street"], channel=data["channel"], category=data["category"],
        complexity=data["complexity"], key_enterprise=data["enterprise"]["key_enterprise"],
        reported_at=data["reported_at"], state="open",
    )
    session.add(demand)
    session.flush()
    for clock in (
        Clock.start("first_response", POLICY.first_response_seconds(demand.channel), demand.reported_at, CALENDAR),
        Clock.start("resolution", POLICY.resolution_seconds(demand.complexity), demand.reported_at, CALENDAR),
    ):
        save_clock(session, demand, clock)


HANDLERS: dict[str, Handler] = {
    "yangpu.demand.submitted.v1": _submitted,
}
