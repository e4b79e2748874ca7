"""Routing's event handlers: each event type to the ONE command it calls, which returns the events it
announced (auto-escalation on a resolution breach included).

Each runs in the consumer's transaction (with its dedupe row), so a redelivered event changes nothing;
``commands.route_demand`` also refuses to route a demand twice if the same demand arrives as another event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from routing_service import commands
from shared.contracts import events
from shared.contracts.events import CloudEvent, known
from shared.messaging.consumer import Handler

if TYPE_CHECKING:
    from routing_service.bootstrap import Context


def handlers(ctx: Context) -> dict[str, Handler]:
    """The worker's handler table; each handler returns what its command announced (the consumer ignores it)."""

    def submitted(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.route_demand(ctx, session, data)

    def resolved(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.refill_after_resolve(ctx, session, data["demand_id"])  # its holder has room again

    def ended(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.refill_after_resolve(ctx, session, data["demand_id"])  # withdrawn, rejected, merged

    def returned(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.refill(ctx, session, data["from_officer_id"])  # the returning officer has room again

    def transferred(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.refill(ctx, session, data["from_officer_id"])  # the former holder has room again

    def clock(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.follow_clock(ctx, session, data)

    def warning(session: Session, event: CloudEvent, data: dict[str, Any]) -> list[CloudEvent]:
        return commands.follow_warning(ctx, session, data)  # also noted for the holder's notices

    return known({
        events.SUBMITTED: submitted,
        events.RESOLVED: resolved,
        events.TRANSFERRED: transferred,
        events.WITHDRAWN: ended,
        events.REJECTED: ended,
        events.MERGED: ended,
        events.RETURNED: returned,
        events.CLOCK_UPDATED: clock,
        events.CLOCK_RETIMED: clock,
        events.WARNING: warning,
        events.BREACHED: clock,
    })
