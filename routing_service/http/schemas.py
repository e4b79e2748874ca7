"""The marshmallow schemas of routing's API: what each endpoint takes and answers (and the OpenAPI document)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from routing_service.domain.policy import KINDS
from routing_service.domain.states import STATES
from routing_service.queries import OFFICER_TABS, QUEUE_KINDS
from routing_service.reference import DutySchema, OfficerFields
from shared.contracts.reference import DEPARTMENTS, STREETS
from shared.contracts.vocabulary import CHANNELS, OUTCOMES, REJECT_REASONS, RETURN_REASONS, SATISFACTIONS
from shared.fields import DemandFactsOut, Instant, Text, Token, count, day

# --- assignments and queues --------------------------------------------------------------------------


class ClockOut(Schema):
    kind = fields.String(metadata={"description": "first_response | resolution"})
    status = fields.String(metadata={
        "description": "running | paused | met | breached: as sla last said, or, in the queues, as the demand's "
                       "state already implies (acknowledged: first response met; awaiting materials: paused; "
                       "resolved: met) while sla's word is on its way"})
    target_at = fields.String(allow_none=True, metadata={"format": "date-time", "description": "RFC 3339 in UTC (Z)"})
    seconds_left = fields.Float(allow_none=True, metadata={
        "description": "Wall-clock seconds until target_at, negative once passed; null while paused"})
    business_seconds_used = fields.Float()
    business_seconds_target = fields.Integer()


class TransferOut(Schema):
    from_officer_id = fields.String(allow_none=True)
    to_officer_id = fields.String(allow_none=True)
    to_department = fields.String(allow_none=True)
    reason = fields.String()
    rule = fields.String()
    actor_id = fields.String()
    at = Instant()


class AssignmentOut(DemandFactsOut):
    state = fields.String()
    officer_id = fields.String(allow_none=True)
    officer_kind = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    rule = fields.String(metadata={"description": "The rule that gave the demand to its current holder"})
    assigned_at = Instant(allow_none=True)
    escalated = fields.Boolean()
    escalated_to = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    reopen_count = fields.Integer()
    extension_request = fields.Dict(allow_none=True, metadata={
        "description": "The extension waiting for the supervisor: working_days, reason, actor_id, at"})
    extension_count = fields.Integer(metadata={"description": "Extensions approved so far"})
    returned_by = fields.List(fields.String(), metadata={"description": "Officers who returned the demand"})
    merged_into = fields.String(allow_none=True)
    next_due = Instant(allow_none=True)
    clocks = fields.List(fields.Nested(ClockOut))
    transfers = fields.List(fields.Nested(TransferOut))


class QueueItem(DemandFactsOut):
    state = fields.String()
    complexity = fields.String()
    title = fields.String()
    key_enterprise = fields.Boolean()
    officer_id = fields.String(allow_none=True)
    escalated = fields.Boolean()
    reported_at = Instant()
    assigned_at = Instant(allow_none=True)
    next_due = Instant(allow_none=True, metadata={"description": "The nearest deadline in play"})
    clocks = fields.List(fields.Nested(ClockOut))
    enterprise_name = fields.String(allow_none=True, metadata={
        "description": "As the demand was submitted; null for demands routed before routing kept it"})
    enterprise_uscc = fields.String(metadata={"description": "Unified social credit code"})
    updated_at = Instant(metadata={"description": "The last action or assignment"})
    outcome = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True, metadata={"description": "The enterprise's feedback, once in"})


class QueueOut(Schema):
    total = fields.Integer(metadata={"description": "How many demands the queue holds (all pages)"})
    items = fields.List(fields.Nested(QueueItem))


class PageArgs(Schema):
    limit = count(1, 500, load_default=50)
    offset = count(0, 1_000_000, load_default=0)


class QueueArgs(PageArgs):
    """The officer's lists (the page's tabs, search and filters are the same arguments)."""

    tab = fields.String(load_default="open", validate=validate.OneOf(OFFICER_TABS), metadata={
        "description": "open: work in hand, most urgent first; resolved: awaiting the enterprise's feedback "
                       "(or, with it in, the close); closed: most recent first"})
    q = Text(validate=validate.Length(max=100), metadata={
        "description": "Part of the enterprise's name, its credit code or the title (any case); your own "
                       "demands only"})
    status = fields.String(validate=validate.OneOf(STATES), metadata={"description": "Only demands in this state"})
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    due_today = fields.Boolean(load_default=False, metadata={
        "description": "Only demands whose nearest deadline falls today (Asia/Shanghai) or has passed"})


class StreetQueueArgs(PageArgs):
    kind = fields.String(load_default="unassigned", validate=validate.OneOf(QUEUE_KINDS))


# --- the officers' actions ---------------------------------------------------------------------------


class NoBody(Schema):
    """The action takes no fields."""


class MaterialsRequestIn(Schema):
    note = Text(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "What the enterprise should bring or send (required: the enterprise is told it)"})


class TransferIn(Schema):
    to_officer = Token(64, metadata={"description": "Roster id"})
    to_department = fields.String(validate=validate.OneOf(list(DEPARTMENTS), error="unknown department {input!r}"))
    reason = Text(required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("to_officer" in data) == ("to_department" in data):
            raise ValidationError("give exactly one of to_officer or to_department", "to_officer")


class ResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))  # no default: the officer chooses
    note = Text(required=True, validate=validate.Length(min=1, max=2000))


class EscalateIn(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class FeedbackIn(Schema):
    satisfaction = fields.String(required=True,
                                 validate=validate.OneOf(SATISFACTIONS))
    comment = Text(load_default=None, validate=validate.Length(max=1000),
                   metadata={"description": "The enterprise's own words, if any"})


# No policy grants more than this in one extension (the longest target, 30 working days, twice over); the
# policy's own cap, a share of the demand's target, is checked by the command.
MAX_EXTENSION_DAYS = 60


class ExtensionRequestIn(Schema):
    working_days = fields.Float(required=True, validate=validate.Range(min=0.5, max=MAX_EXTENSION_DAYS), metadata={
        "description": "More working days asked for (at least 0.5; at most the policy's share of the demand's "
                       "resolution target, else 422)"})
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class ExtensionApproveIn(Schema):
    reason = Text(load_default="", validate=validate.Length(max=500))


class ReasonIn(Schema):
    """A reason is required (the holder or the enterprise is told it)."""

    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class ReturnIn(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(RETURN_REASONS))
    note = Text(load_default="", validate=validate.Length(max=500))


class ReviewApproveIn(Schema):
    note = Text(load_default="", validate=validate.Length(max=500))


class RejectIn(Schema):
    reason_code = fields.String(required=True, validate=validate.OneOf(REJECT_REASONS))
    note = Text(load_default="", validate=validate.Length(max=500))


class MergeIn(Schema):
    into = Token(36, required=True, metadata={
        "description": "The surviving demand: open, in routing, of the same enterprise (else 422 on `into`)"})


# The body each action takes (the API's and the officer's page's forms).
ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "acknowledge": NoBody, "request-materials": MaterialsRequestIn, "materials-received": NoBody,
    "transfer": TransferIn, "resolve": ResolveIn, "escalate": EscalateIn, "feedback": FeedbackIn, "close": NoBody,
    "request-extension": ExtensionRequestIn, "approve-extension": ExtensionApproveIn, "refuse-extension": ReasonIn,
    "return": ReturnIn, "approve-resolution": ReviewApproveIn, "send-back": ReasonIn, "withdraw": ReasonIn,
    "reject": RejectIn, "merge": MergeIn,
}


class ReassignIn(Schema):
    to_officer = Token(64, metadata={"description": "Give every demand to this officer instead of the rules' "
                                                    "choice (a supervisor's override)"})


class ReassignedOut(Schema):
    demand_id = fields.String()
    from_officer_id = fields.String()
    to_officer_id = fields.String(allow_none=True)
    rule = fields.String()


class ReassignOut(Schema):
    moved = fields.Integer(metadata={"description": "How many demands changed hands"})
    items = fields.List(fields.Nested(ReassignedOut), metadata={"description": "Each one moved, and where"})
    stayed = fields.List(fields.String(), metadata={
        "description": "Demands nobody else could take now (they stay with the officer)"})


# --- the roster ------------------------------------------------------------------------------------


class OfficerOut(Schema):
    id = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True, metadata={"description": "Office phone, canonical form"})
    kind = fields.String()
    streets = fields.List(fields.String())
    department = fields.String(allow_none=True)
    skills = fields.List(fields.String())
    capacity = fields.Integer()
    duty = fields.Nested(DutySchema)
    open_count = fields.Integer(metadata={"description": "Open demands the officer holds now"})
    on_duty = fields.Boolean(metadata={"description": "The admin's switch; off = not given demands"})
    on_shift_now = fields.Boolean(metadata={"description": "Within the weekly duty hours at this moment"})
    edited_at = Instant(allow_none=True)
    leave_from = fields.Date(allow_none=True, metadata={"description": "First day of leave (Asia/Shanghai)"})
    leave_until = fields.Date(allow_none=True, metadata={"description": "Last day of leave, inclusive"})
    on_leave = fields.Boolean(metadata={
        "description": "The leave covers today (Shanghai): routing treats the officer as off duty"})


class OfficerListArgs(Schema):
    street = fields.String(validate=validate.OneOf(list(STREETS)),
                           metadata={"description": "Officers serving this street (or every street)"})
    kind = fields.String(validate=validate.OneOf(KINDS))
    department = fields.String(validate=validate.OneOf(list(DEPARTMENTS)))


class OfficerPatch(OfficerFields):
    """Any subset of the officer's fields."""


MAX_LEAVE_DAYS = 366  # until is at most from + this many days


class LeaveIn(Schema):
    """An officer's leave: two Asia/Shanghai dates, both inclusive."""

    leave_from = day("First day of leave", data_key="from", required=True)
    leave_until = day("Last day of leave (inclusive): on or after from, at most 366 days later", data_key="until",
                      required=True)

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("leave_from"), data.get("leave_until")
        if start is None or end is None:
            return
        if end < start:
            raise ValidationError("must be on or after from", "until")
        if (end - start).days > MAX_LEAVE_DAYS:
            raise ValidationError(f"at most {MAX_LEAVE_DAYS} days after from", "until")


class CapacityIn(Schema):
    capacity = count(0, 100_000, required=True, strict=True)
