"""Routing's local projection of ``sla.events``: the deadlines that order the officers' queues.

Why a projection and not a call to sla: ``GET /api/v1/queue`` must answer in ≤ 50 ms (p99) with a million
demands stored, ordered by urgency, and must keep answering when sla is slow, redeploying or down. Asking
sla per request would put its latency and availability into every queue read, and the order itself
(most urgent first, paginated) needs the deadlines next to the assignments so one indexed read —
``(officer_id, is_open, next_due)`` — returns the page. sla already announces every clock change
(``clock_updated``, ``warning``, ``breached``: kind, status, target_at, business seconds used/target), so
routing keeps the last of each in its own table. The price is eventual consistency (the projection trails
sla by the event latency) and ``business_seconds_used`` being as of the last change; the wall-clock time
left is computed from ``target_at`` at read time, which is exact while a clock runs.

The two topics are not ordered with each other, so a clock event may arrive before routing has seen the
demand's ``submitted``: it waits in ``early_sla_clocks`` and is adopted when the assignment is created.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from routing_service.model import Assignment, EarlyClock
from routing_service.policy import ClockView, next_due


def clock_from_event(data: dict[str, Any]) -> dict[str, Any]:
    """The stored (JSON) shape of a clock, from an sla event's data."""
    target = data.get("target_at")
    return {"kind": data["kind"], "status": data["status"],
            "target_at": target.isoformat() if target else None,
            "business_seconds_used": float(data["business_seconds_used"]),
            "business_seconds_target": int(data["business_seconds_target"]),
            "at": data["at"].isoformat()}


def clock_views(sla: dict[str, Any]) -> list[ClockView]:
    return [ClockView(kind=c["kind"], status=c["status"],
                      target_at=datetime.fromisoformat(c["target_at"]) if c.get("target_at") else None,
                      business_seconds_used=c["business_seconds_used"],
                      business_seconds_target=c["business_seconds_target"])
            for c in (sla or {}).values()]


def _newer(clock: dict[str, Any], than: dict[str, Any] | None) -> bool:
    return than is None or datetime.fromisoformat(clock["at"]) >= datetime.fromisoformat(than["at"])


def refresh_due(a: Assignment) -> None:
    """Recompute the deadline columns after the clocks or the demand's state changed."""
    clocks = {c.kind: c for c in clock_views(a.sla)}
    a.first_response_due = clocks["first_response"].target_at if "first_response" in clocks else None
    a.resolution_due = clocks["resolution"].target_at if "resolution" in clocks else None
    a.next_due = next_due(a.state, clocks.values())


def merge_clock(a: Assignment, clock: dict[str, Any]) -> bool:
    """Put a clock into the assignment's projection unless an equally new one is there; True if changed."""
    if not _newer(clock, (a.sla or {}).get(clock["kind"])):
        return False
    a.sla = {**(a.sla or {}), clock["kind"]: clock}  # a new dict, so the JSON column is seen as changed
    refresh_due(a)
    return True


def record_clock(session: Session, data: dict[str, Any]) -> Assignment | None:
    """Apply one sla event; returns the (row-locked) assignment, or None when it is not routed yet."""
    clock = clock_from_event(data)
    a = session.get(Assignment, data["demand_id"], with_for_update=True)
    if a is not None:
        merge_clock(a, clock)
        return a
    early = session.get(EarlyClock, (data["demand_id"], clock["kind"]), with_for_update=True)
    if early is None:
        session.add(EarlyClock(demand_id=data["demand_id"], kind=clock["kind"], clock=clock))
    elif _newer(clock, early.clock):
        early.clock = clock
    return None


def adopt_early_clocks(session: Session, a: Assignment) -> None:
    """Move clocks that arrived before the assignment into it."""
    early = session.scalars(select(EarlyClock).where(EarlyClock.demand_id == a.demand_id)).all()
    for row in early:
        merge_clock(a, row.clock)
    if early:
        session.execute(delete(EarlyClock).where(EarlyClock.demand_id == a.demand_id))
