"""Every event SLA publishes, built here and queued in the outbox of the caller's transaction.

All of them describe one clock of one demand on ``sla.events`` (``clock_updated``, ``clock_retimed``,
``warning``, ``breached``), keyed by the demand id like every event, so a demand's news stays in order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from shared.contracts.events import CloudEvent, new_event
from shared.messaging.outbox import emit
from sla_service.model import ClockRow, TimedDemand

SOURCE = "/sla"


def clock(session: Session, type_: str, demand: TimedDemand, row: ClockRow, used: float,
          at: datetime, **why: object) -> CloudEvent:
    """Queue a ``type_`` event describing ``row`` as it stands, with ``used`` business seconds at ``at``;
    ``why`` adds the reason of a change no lifecycle event caused (``reason``, ``previous_target_at``, ...)."""
    event = new_event(type_, {
        "demand_id": demand.demand_id, "street": demand.street, "channel": demand.channel,
        "category": demand.category, "kind": row.kind, "status": row.status, "target_at": row.target_at,
        "business_seconds_used": used, "business_seconds_target": row.business_seconds_target,
        "key_enterprise": demand.key_enterprise, "at": at, **why,
    }, source=SOURCE)
    emit(session, event)
    return event
