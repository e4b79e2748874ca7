"""Every event intake publishes is built here: only ``submitted``, when a demand is logged and when the resend
sweep re-publishes it."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy.orm import Session

from intake_service.model import Demand
from shared.contracts import events
from shared.contracts.events import CloudEvent, new_event
from shared.messaging.outbox import emit

SOURCE = "/intake"


def submitted_event(demand: Demand) -> CloudEvent:
    """The demand's ``submitted`` event, rebuilt from the row: the same id, time and data every time.

    The data is a function of columns that never change after the insert (instants in UTC), so the event
    logged with the demand and any re-publication of it are the same event, which consumers dedupe.
    """
    event = new_event(events.SUBMITTED, {
        "demand_id": demand.id, "channel": demand.channel, "street": demand.street, "grid": demand.grid,
        "category": demand.category, "complexity": demand.complexity, "title": demand.title,
        "enterprise": {"uscc": demand.enterprise_uscc, "name": demand.enterprise_name,
                       "key_enterprise": demand.key_enterprise, "chief_officer_id": demand.chief_officer_id},
        "reported_at": demand.reported_at.astimezone(UTC), "received_at": demand.received_at.astimezone(UTC),
    }, source=SOURCE)
    attributes = {**event.get_attributes(), "id": demand.submitted_event_id, "time": demand.submitted_event_at}
    return CloudEvent(attributes=attributes, data=event.get_data())


def submitted(session: Session, demand: Demand) -> CloudEvent:
    """Queue the demand's ``submitted`` event in the caller's transaction (published only if it commits)."""
    event = submitted_event(demand)
    emit(session, event)
    return event
