"""Routing reacts to submitted demands (assigns them) and keeps its SLA projection from sla.events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing_service.model import Assignment, Officer
from shared.consumer import Handler
from shared.events import CloudEvent, new_event
from shared.outbox import emit


def _submitted(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    if session.get(Assignment, data["demand_id"]) is not None:
        return
    now = datetime.now(UTC)
    candidates = [o for o in session.scalars(select(Officer).where(Officer.kind == "street_commissioner")
                                             .order_by(Officer.id)).all()
                  if data["street"] in o.streets and o.open_count < o.capacity]
    officer = min(candidates, key=lambda o: (o.open_count, o.id), default=None)
    assignment = Assignment(
        demand_id=data["demand_id"], street=data["street"], channel=data["channel"], category=data["category"],
        complexity=data["complexity"], title=data["title"], enterprise_uscc=data["enterprise"]["uscc"],
        key_enterprise=data["enterprise"]["key_enterprise"], state="assigned" if officer else "unassigned",
        officer_id=officer.id if officer else None, officer_kind=officer.kind if officer else None,
        rule="street_commissioner" if officer else "no_one_eligible", assigned_at=now if officer else None,
        reported_at=data["reported_at"], updated_at=now,
    )
    if officer:
        officer.open_count += 1
    session.add(assignment)
    emit(session, new_event("yangpu.demand.assigned.v1", {
        "demand_id": assignment.demand_id, "street": assignment.street, "actor_id": "routing", "at": now,
        "officer_id": assignment.officer_id, "officer_kind": assignment.officer_kind, "department": None,
        "rule": assignment.rule, "queue": "officer" if officer else "street_unassigned",
    }, source="/routing"))


HANDLERS: dict[str, Handler] = {
    "yangpu.demand.submitted.v1": _submitted,
}
