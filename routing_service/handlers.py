"""Routing's event handlers: assign submitted demands, follow sla.events, refill freed capacity.

Each runs in the consumer's transaction (with its dedupe row), so a redelivered event changes nothing;
``route_submitted`` also refuses to route a demand twice if the same demand arrives as another event.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from routing_service.actions import escalate_on_breach
from routing_service.dispatch import retry_unassigned, route_submitted, streets_served
from routing_service.model import Assignment, Officer
from routing_service.sla_projection import record_clock
from shared.contracts import events
from shared.contracts.events import CloudEvent, known
from shared.messaging.consumer import Handler


def _submitted(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    a = route_submitted(session, data, now)
    if a is not None:
        escalate_on_breach(session, a, now)  # a breach that arrived before the demand did


def _clock(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    a = record_clock(session, data)
    if a is not None:
        escalate_on_breach(session, a, datetime.now(UTC))


def _refill(session: Session, officer_id: str | None) -> None:
    """Capacity was freed: offer the unassigned queues of the streets the officer serves."""
    streets = streets_served(session.get(Officer, officer_id) if officer_id else None)
    if streets is None or streets:
        retry_unassigned(session, datetime.now(UTC), streets)


def _resolved(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    a = session.get(Assignment, data["demand_id"])
    _refill(session, a.officer_id if a else None)


def _transferred(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    _refill(session, data["from_officer_id"])


HANDLERS: dict[str, Handler] = known({
    events.SUBMITTED: _submitted,
    events.RESOLVED: _resolved,
    events.TRANSFERRED: _transferred,
    events.CLOCK_UPDATED: _clock,
    events.WARNING: _clock,
    events.BREACHED: _clock,
})
