"""Every event routing publishes is built here and written to its outbox in the caller's transaction.

Each function returns the events it emitted, so a command can hand back what it announced (the worker's
handlers and the tests see exactly what will go out, without reading the outbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from routing_service import metrics
from routing_service.domain.states import EVENT_TYPES
from routing_service.model import Assignment
from shared.contracts import events
from shared.contracts.events import CloudEvent, new_event
from shared.messaging.outbox import emit

SOURCE = "/routing"


def _emit(session: Session, type_: str, data: dict[str, Any]) -> list[CloudEvent]:
    event = new_event(type_, data, source=SOURCE)
    emit(session, event)
    return [event]


def assigned(session: Session, a: Assignment, actor_id: str, now: datetime) -> list[CloudEvent]:
    """Who holds the demand (or that it waits in its street's unassigned queue), by which rule. It repeats
    the demand's facts so that SLA can open the clocks itself if the demand's ``submitted`` never reached it."""
    announced = _emit(session, events.ASSIGNED, {
        "demand_id": a.demand_id, "street": a.street, "actor_id": actor_id, "at": now,
        "officer_id": a.officer_id, "officer_kind": a.officer_kind, "department": a.department, "rule": a.rule,
        "queue": "officer" if a.officer_id else "street_unassigned",
        "channel": a.channel, "category": a.category, "complexity": a.complexity,
        "key_enterprise": a.key_enterprise, "reported_at": a.reported_at,
    })
    metrics.DECISIONS.labels(a.street, a.channel, a.rule).inc()
    return announced


def action(session: Session, action: str, a: Assignment, actor_id: str, now: datetime,
           **extra: Any) -> list[CloudEvent]:
    """What an officer (or routing, escalating by itself) did to the demand: the action's event type
    (:data:`routing_service.domain.states.EVENT_TYPES`) with the action's own fields in ``extra``."""
    return _emit(session, EVENT_TYPES[action], {
        "demand_id": a.demand_id, "street": a.street, "actor_id": actor_id, "at": now, **extra,
    })
