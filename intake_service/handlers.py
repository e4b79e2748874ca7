"""Intake keeps the reporter's view current from demand.events and sla.events.

Every lifecycle and SLA alert event becomes a timeline entry and moves the demand's projected columns
(status, assignee, outcome, ...) through one command, :func:`intake_service.commands.project_event`.
``submitted`` is ours (the timeline shows it from the demand row), so it is not handled; of the clock news
only ``sla.clock_retimed`` (a newly entered working calendar moved a deadline) is a timeline entry, so
intake skips every ``clock_updated`` on its type header without decoding it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from intake_service import commands
from intake_service.domain.policy import EVENT_KINDS
from shared.contracts.events import CloudEvent, known
from shared.messaging.consumer import Handler

if TYPE_CHECKING:
    from intake_service.bootstrap import Context


def _project(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    commands.project_event(session, event.get_id(), event.get_type(), data)


def handlers(ctx: Context) -> dict[str, Handler]:
    """Event type -> handler: every type the reporter's timeline shows (``EVENT_KINDS``) is projected."""
    return known(dict.fromkeys(EVENT_KINDS, _project))
