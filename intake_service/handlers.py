"""Intake keeps the reporter's view current from demand.events and sla.events."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from intake_service.model import Demand, TimelineEntry
from shared.consumer import Handler
from shared.events import CloudEvent


def _assigned(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    demand = session.get(Demand, data["demand_id"])
    if demand is None:
        return
    demand.assignee_id = data["officer_id"]
    demand.status = "assigned" if data["officer_id"] else "unassigned"
    demand.updated_at = data["at"]
    session.add(TimelineEntry(demand_id=demand.id, event_id=event.get_id(), kind="assigned", at=data["at"],
                              actor_id=data["actor_id"],
                              details={"officer_id": data["officer_id"], "rule": data["rule"]}))


HANDLERS: dict[str, Handler] = {
    "yangpu.demand.assigned.v1": _assigned,
}
