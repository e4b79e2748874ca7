"""The one event envelope (CloudEvents 1.0) and the catalogue of event types.

Every event is a CloudEvent whose ``subject`` and ``partitionkey`` are the demand id, so Kafka keeps one
demand's events in order. On the wire it travels in binary content mode (``ce_*`` headers, JSON value).
Each type has a marshmallow schema here; producers validate before writing, consumers before handling.
Every instant in an event's data is written in UTC with ``Z`` (:func:`shared.instants.instant_text`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from cloudevents.core.v1.event import CloudEvent
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from shared.contracts.vocabulary import (
    CLOCK_KINDS,
    COMPLEXITIES,
    OUTCOMES,
    QUEUES,
    REJECT_REASONS,
    RETURN_REASONS,
    SATISFACTIONS,
)
from shared.instants import Instant, instant_text

DEMAND_EVENTS = "demand.events"
SLA_EVENTS = "sla.events"
TOPICS = (DEMAND_EVENTS, SLA_EVENTS)

# --- event types: use these names, never the strings ------------------------------------------------

SUBMITTED = "yangpu.demand.submitted.v1"
ASSIGNED = "yangpu.demand.assigned.v1"
ACKNOWLEDGED = "yangpu.demand.acknowledged.v1"
MATERIALS_REQUESTED = "yangpu.demand.materials_requested.v1"
MATERIALS_RECEIVED = "yangpu.demand.materials_received.v1"
TRANSFERRED = "yangpu.demand.transferred.v1"
RESOLVED = "yangpu.demand.resolved.v1"
ESCALATED = "yangpu.demand.escalated.v1"
FEEDBACK_RECEIVED = "yangpu.demand.feedback_received.v1"
REOPENED = "yangpu.demand.reopened.v1"
CLOSED = "yangpu.demand.closed.v1"
# The work-order lifecycle beyond the first cut (issue 15): 延期 extension, 退单 return, 审核 review,
# 撤销 withdrawal, 不予受理 rejection, 重复 merge.
EXTENSION_REQUESTED = "yangpu.demand.extension_requested.v1"
EXTENSION_APPROVED = "yangpu.demand.extension_approved.v1"
EXTENSION_REFUSED = "yangpu.demand.extension_refused.v1"
RETURNED = "yangpu.demand.returned.v1"
REVIEW_APPROVED = "yangpu.demand.review_approved.v1"
SENT_BACK = "yangpu.demand.sent_back.v1"
WITHDRAWN = "yangpu.demand.withdrawn.v1"
REJECTED = "yangpu.demand.rejected.v1"
MERGED = "yangpu.demand.merged.v1"
CLOCK_UPDATED = "yangpu.sla.clock_updated.v1"
CLOCK_RETIMED = "yangpu.sla.clock_retimed.v1"
WARNING = "yangpu.sla.warning.v1"
BREACHED = "yangpu.sla.breached.v1"
T = TypeVar("T")


def dlq_topic(topic: str) -> str:
    """Dead letters of a topic go to ``<topic>.dlq``."""
    return f"{topic}.dlq"


class EventValidationError(ValueError):
    """An event's attributes or data do not match the catalogue; the message says which field."""


# --- data schemas -------------------------------------------------------------------------------


class _Data(Schema):
    class Meta:
        unknown = EXCLUDE  # newer producers may add fields; old consumers ignore them

    demand_id = fields.String(required=True)


class EnterpriseRef(Schema):
    class Meta:
        unknown = EXCLUDE

    uscc = fields.String(required=True)
    name = fields.String(required=True)
    key_enterprise = fields.Boolean(load_default=False)
    chief_officer_id = fields.String(allow_none=True, load_default=None)


class DemandSubmitted(_Data):
    channel = fields.String(required=True)
    street = fields.String(required=True)
    grid = fields.String(allow_none=True, load_default=None)
    category = fields.String(required=True)
    complexity = fields.String(required=True, validate=validate.OneOf(COMPLEXITIES))
    title = fields.String(required=True)
    enterprise = fields.Nested(EnterpriseRef, required=True)
    reported_at = Instant(required=True)
    received_at = Instant(required=True)


class _Action(_Data):
    street = fields.String(required=True)
    actor_id = fields.String(required=True)
    at = Instant(required=True)


class DemandAssigned(_Action):
    officer_id = fields.String(allow_none=True, required=True)
    officer_kind = fields.String(allow_none=True, required=True)
    department = fields.String(allow_none=True, load_default=None)
    rule = fields.String(required=True)
    queue = fields.String(required=True, validate=validate.OneOf(QUEUES))
    # What SLA needs to open the demand's clocks if its `submitted` never reached SLA (None in older events).
    channel = fields.String(allow_none=True, load_default=None)
    category = fields.String(allow_none=True, load_default=None)
    complexity = fields.String(allow_none=True, load_default=None,
                               validate=validate.OneOf(COMPLEXITIES))
    key_enterprise = fields.Boolean(allow_none=True, load_default=None)
    reported_at = Instant(allow_none=True, load_default=None)


class DemandAcknowledged(_Action):
    pass


class DemandMaterialsRequested(_Action):
    note = fields.String(load_default="")


class DemandMaterialsReceived(_Action):
    pass


class DemandTransferred(_Action):
    from_officer_id = fields.String(allow_none=True, load_default=None)
    to_officer_id = fields.String(allow_none=True, load_default=None)
    to_department = fields.String(allow_none=True, load_default=None)  # the department asked for, if any
    reason = fields.String(required=True)
    # The new holder's kind and department (None for a street officer), so SLA's department clocks know whose
    # time starts; absent (None) in events from before routing said so.
    to_officer_kind = fields.String(allow_none=True, load_default=None)
    to_officer_department = fields.String(allow_none=True, load_default=None)


class DemandResolved(_Action):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(load_default="")
    # True when the resolution waits for a supervisor's review (结案审核) before it stands.
    review = fields.Boolean(load_default=False)


class DemandEscalated(_Action):
    to_officer_id = fields.String(allow_none=True, load_default=None)
    reason = fields.String(required=True)
    automatic = fields.Boolean(load_default=False)


class DemandFeedback(_Action):
    satisfaction = fields.String(
        required=True, validate=validate.OneOf(SATISFACTIONS)
    )
    comment = fields.String(allow_none=True, load_default=None)  # the enterprise's own words, if any


class DemandReopened(_Action):
    reason = fields.String(load_default="")


class DemandClosed(_Action):
    # The outcome the demand was resolved with (routing adds it so consumers need not remember it).
    outcome = fields.String(allow_none=True, load_default=None,
                            validate=validate.OneOf(OUTCOMES))


class DemandExtensionRequested(_Action):
    working_days = fields.Float(required=True)
    reason = fields.String(required=True)


class DemandExtensionApproved(_Action):
    """The resolution target moves later by ``business_seconds`` (sla re-times the clock)."""

    working_days = fields.Float(required=True)
    business_seconds = fields.Integer(required=True)
    reason = fields.String(load_default="")


class DemandExtensionRefused(_Action):
    reason = fields.String(required=True)


class DemandReturned(_Action):
    """The holder sent the demand back for re-routing; an ``assigned`` event follows (clocks keep running)."""

    from_officer_id = fields.String(required=True)
    reason_code = fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = fields.String(load_default="")
    returns = fields.Integer(required=True)  # how many times the demand has now been returned


class DemandReviewApproved(_Action):
    note = fields.String(load_default="")


class DemandSentBack(_Action):
    """The reviewer sent the resolution back: the demand is open again with its holder (like a reopening)."""

    reason = fields.String(required=True)


class DemandWithdrawn(_Action):
    """The enterprise withdrew the demand (撤销): clocks stop, and it leaves the rates' denominators."""

    reason = fields.String(load_default="")


class DemandRejected(_Action):
    """Not accepted (不予受理): clocks stop, and it leaves the rates' denominators."""

    reason_code = fields.String(required=True, validate=validate.OneOf(REJECT_REASONS))
    note = fields.String(load_default="")


class DemandMerged(_Action):
    """A duplicate closed into the demand that survives (``into``): only the survivor counts in the rates."""

    into = fields.String(required=True)


class SlaClockEvent(_Data):
    """Warnings, breaches and clock updates: what a clock looks like after the change."""

    street = fields.String(required=True)
    channel = fields.String(required=True)
    category = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CLOCK_KINDS))
    status = fields.String(required=True)
    target_at = Instant(allow_none=True, load_default=None)
    business_seconds_used = fields.Float(required=True)
    business_seconds_target = fields.Integer(required=True)
    key_enterprise = fields.Boolean(load_default=False)
    at = Instant(required=True)


class SlaClockRetimed(SlaClockEvent):
    """A deadline a newly entered working calendar moved: its own type, so that only the consumers that show
    it (intake's timeline, routing's queues) receive it, not every lifecycle update's consumer."""

    previous_target_at = Instant(allow_none=True, load_default=None)
    calendar_revision = fields.Integer(required=True)


@dataclass(frozen=True)
class EventType:
    name: str
    topic: str
    schema: Schema


def _types(topic: str, pairs: dict[str, type[Schema]]) -> dict[str, EventType]:
    return {name: EventType(name, topic, schema()) for name, schema in pairs.items()}


CATALOGUE: dict[str, EventType] = {
    **_types(
        DEMAND_EVENTS,
        {
            SUBMITTED: DemandSubmitted,
            ASSIGNED: DemandAssigned,
            ACKNOWLEDGED: DemandAcknowledged,
            MATERIALS_REQUESTED: DemandMaterialsRequested,
            MATERIALS_RECEIVED: DemandMaterialsReceived,
            TRANSFERRED: DemandTransferred,
            RESOLVED: DemandResolved,
            ESCALATED: DemandEscalated,
            FEEDBACK_RECEIVED: DemandFeedback,
            REOPENED: DemandReopened,
            CLOSED: DemandClosed,
            EXTENSION_REQUESTED: DemandExtensionRequested,
            EXTENSION_APPROVED: DemandExtensionApproved,
            EXTENSION_REFUSED: DemandExtensionRefused,
            RETURNED: DemandReturned,
            REVIEW_APPROVED: DemandReviewApproved,
            SENT_BACK: DemandSentBack,
            WITHDRAWN: DemandWithdrawn,
            REJECTED: DemandRejected,
            MERGED: DemandMerged,
        },
    ),
    **_types(
        SLA_EVENTS,
        {
            CLOCK_UPDATED: SlaClockEvent,
            CLOCK_RETIMED: SlaClockRetimed,
            WARNING: SlaClockEvent,
            BREACHED: SlaClockEvent,
        },
    ),
}


def known(mapping: dict[str, T]) -> dict[str, T]:
    """``mapping`` keyed by event types, checked against the catalogue when the module defining it loads.

    A misspelt type in a handler table would otherwise be counted as "not ours" and skipped for ever.
    """
    unknown = sorted(set(mapping) - set(CATALOGUE))
    if unknown:
        raise EventValidationError(f"not in the event catalogue: {', '.join(unknown)}")
    return mapping


# --- the envelope -------------------------------------------------------------------------------


def new_event(type_: str, data: dict[str, Any], source: str) -> CloudEvent:
    """Build a validated event; its subject and Kafka key are the demand id in ``data``."""
    entry = CATALOGUE.get(type_)
    if entry is None:
        raise EventValidationError(f"unknown event type {type_!r}")
    problems = entry.schema.validate(_jsonable(data))
    if problems:
        raise EventValidationError(f"{type_}: {problems}")
    demand_id = data["demand_id"]
    return CloudEvent(
        attributes={
            "id": str(uuid.uuid4()),
            "source": source,
            "type": type_,
            "specversion": "1.0",
            "time": datetime.now(UTC),
            "subject": demand_id,
            "datacontenttype": "application/json",
            "partitionkey": demand_id,
        },
        data=_jsonable(data),
    )


def topic_of(event: CloudEvent) -> str:
    return CATALOGUE[event.get_type()].topic


def load_data(event: CloudEvent) -> dict[str, Any]:
    """The event's data validated and deserialised by its catalogue schema."""
    entry = CATALOGUE.get(event.get_type())
    if entry is None:
        raise EventValidationError(f"unknown event type {event.get_type()!r}")
    try:
        return entry.schema.load(event.get_data() or {})
    except ValidationError as exc:
        raise EventValidationError(f"{entry.name}: {exc.messages}") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        try:
            return instant_text(value)
        except ValueError as exc:
            raise EventValidationError(f"event times must carry a UTC offset: {exc}") from exc
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


