"""Intake keeps the reporter's view current from demand.events and sla.events.

Every lifecycle and SLA alert event becomes a timeline entry and moves the demand's projected columns
(status, assignee, outcome, ...) as :func:`intake_service.policy.apply_event` says. ``submitted`` is ours
(the timeline shows it from the demand row) and ``sla.clock_updated`` carries nothing the reporter sees.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from intake_service.model import Demand, TimelineEntry
from intake_service.policy import EVENT_KINDS, DemandState, apply_event, timeline_details
from shared.contracts.events import CloudEvent
from shared.messaging.consumer import Handler


def project(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    """Apply one event to the demand it is about; events about demands logged elsewhere are ignored."""
    demand = session.get(Demand, data["demand_id"])
    if demand is None:
        return
    kind = EVENT_KINDS[event.get_type()]
    state = apply_event(DemandState(demand.status, demand.assignee_id, demand.department, demand.outcome,
                                    demand.satisfaction, demand.escalated, demand.sla_status), kind, data)
    for name, value in state.__dict__.items():
        setattr(demand, name, value)
    demand.updated_at = max(demand.updated_at, data["at"])
    session.add(TimelineEntry(demand_id=demand.id, event_id=event.get_id(), kind=kind, at=data["at"],
                              actor_id=data.get("actor_id", "sla"), details=timeline_details(kind, data)))


HANDLERS: dict[str, Handler] = {event_type: project for event_type in EVENT_KINDS}
