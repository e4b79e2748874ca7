"""The marshmallow schemas of routing's API: what each endpoint takes and answers (and the OpenAPI document)."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate, validates_schema

from routing_service.domain.policy import KINDS
from routing_service.domain.states import STATES
from routing_service.queries import OFFICER_TABS, QUEUE_KINDS
from routing_service.reference import DutySchema, OfficerFields
from shared.contracts.reference import DEPARTMENTS, STREETS
from shared.contracts.vocabulary import CHANNELS, OUTCOMES, REJECT_REASONS, RETURN_REASONS, SATISFACTIONS
from shared.fields import DemandFactsOut, Instant, Text, Token, count, day, moment

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


# --- alerts (Alertmanager's webhook, issue 18) ------------------------------------------------------------

# Alertmanager's "no end yet" (Go's zero time) and anything before the suite's range mean "not ended".
_GO_ZERO_TIME = re.compile(r"^0001-01-01T")
MAX_WEBHOOK_ALERTS = 1000  # Alertmanager's `max_alerts` for this receiver must not exceed it
ALERT_FEEDS = ("active", "all")


def _blank_to_missing(data: Any) -> Any:
    """Templates render an absent annotation as "" (or blanks): as if it were not sent."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
    return data


class AlertLabelsIn(Schema):
    """The labels the suite reads; any other label (instance, job, ...) is Alertmanager's business."""

    class Meta:
        unknown = EXCLUDE

    alertname = Token(200, required=True, metadata={"description": "The rule's name (deploy/prometheus/rules)"})
    severity = Token(40, metadata={"description": "page | ticket (the rules' convention)"})
    street = fields.String(validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="a street code"), metadata={
        "description": "Street (街道) code: the street's supervisors see the alert; none = district-wide"})

    @pre_load
    def _blanks(self, data: Any, **_: Any) -> Any:
        return _blank_to_missing(data)


class GroupLabelsIn(AlertLabelsIn):
    """A group's labels: those it is grouped by, or that all its alerts share (maybe no alertname)."""

    alertname = Token(200, metadata={"description": "The rule's name, if the group has one"})


class AlertAnnotationsIn(Schema):
    """The annotations the suite shows; others are ignored."""

    class Meta:
        unknown = EXCLUDE

    summary = Text(validate=validate.Length(max=1000), metadata={"description": "One line: what is wrong"})
    description = Text(validate=validate.Length(max=4000), metadata={"description": "What it means"})
    runbook = Text(validate=validate.Length(max=500), metadata={"description": "Where the runbook is"})
    page = fields.String(validate=validate.Regexp(r"^/[A-Za-z0-9/_.-]{0,199}$", error="a path on the suite"),
                         metadata={"description": "The path of the suite's page that shows the problem"})

    @pre_load
    def _blanks(self, data: Any, **_: Any) -> Any:
        return _blank_to_missing(data)


class WebhookAlertIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(("firing", "resolved")), metadata={
        "description": "firing | resolved (final for this fingerprint and startsAt)"})
    labels = fields.Nested(AlertLabelsIn, required=True, metadata={"description": "The alert's labels"})
    annotations = fields.Nested(AlertAnnotationsIn, load_default=dict, metadata={
        "description": "The alert's annotations"})
    startsAt = moment("When the alert started firing; with the fingerprint, it names the alert", required=True)
    endsAt = moment("When it ended (resolved alerts); Go's zero time or null = not ended", allow_none=True,
                    load_default=None)
    generatorURL = Text(validate=validate.Length(max=2000), metadata={
        "description": "Prometheus' link to the rule's expression"})
    fingerprint = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{1,64}$", error="hex digits"),
                                metadata={"description": "Alertmanager's hash of the labels"})

    @pre_load
    def _not_ended(self, data: Any, **_: Any) -> Any:
        data = _blank_to_missing(data)
        if isinstance(data, dict) and isinstance(data.get("endsAt"), str) and _GO_ZERO_TIME.match(data["endsAt"]):
            data = {**data, "endsAt": None}
        return data


class AlertWebhookIn(Schema):
    """Alertmanager's webhook payload, version 4 (prometheus.io/docs/alerting/latest/configuration/#webhook_config)."""

    version = fields.String(required=True, validate=validate.Equal("4", error="only version 4 is understood"),
                            metadata={"description": "The payload's version: 4"})
    groupKey = Text(required=True, validate=validate.Length(min=1, max=4000), metadata={
        "description": "The alert group's key"})
    truncatedAlerts = count(0, 10**9, load_default=0, metadata={
        "description": "How many alerts Alertmanager left out (its max_alerts)"})
    status = fields.String(required=True, validate=validate.OneOf(("firing", "resolved")), metadata={
        "description": "firing if any alert of the group fires"})
    receiver = Text(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "The receiver's name in alertmanager.yml"})
    groupLabels = fields.Nested(GroupLabelsIn, load_default=dict, metadata={
        "description": "Labels the group is formed by"})
    commonLabels = fields.Nested(GroupLabelsIn, load_default=dict, metadata={
        "description": "Labels every alert of the group has"})
    commonAnnotations = fields.Nested(AlertAnnotationsIn, load_default=dict, metadata={
        "description": "Annotations every alert of the group has"})
    externalURL = Text(validate=validate.Length(max=2000), metadata={"description": "Alertmanager's own address"})
    alerts = fields.List(fields.Nested(WebhookAlertIn), required=True,
                         validate=validate.Length(min=1, max=MAX_WEBHOOK_ALERTS), metadata={
                             "description": f"The group's alerts, 1 to {MAX_WEBHOOK_ALERTS}"})


class AlertWebhookOut(Schema):
    alerts = fields.Integer(metadata={"description": "How many alerts were stored or updated"})


class AlertsArgs(Schema):
    show = fields.String(load_default="active", validate=validate.OneOf(ALERT_FEEDS), metadata={
        "description": "active: firing ones and those resolved in the last 24 hours (the default); all: also "
                       "older resolved ones (the latest 200)"})


class AlertOut(Schema):
    id = fields.Integer(metadata={"description": "The suite's id of the alert"})
    alertname = fields.String(metadata={"description": "The rule's name"})
    status = fields.String(metadata={"description": "firing | resolved"})
    severity = fields.String(allow_none=True, metadata={"description": "page | ticket"})
    street = fields.String(allow_none=True, metadata={"description": "Street code; null = district-wide"})
    summary = fields.String(allow_none=True, metadata={"description": "The summary annotation"})
    description = fields.String(allow_none=True, metadata={"description": "The description annotation"})
    runbook = fields.String(allow_none=True, metadata={"description": "The runbook annotation"})
    page = fields.String(allow_none=True, metadata={"description": "The page annotation (a path on the suite)"})
    generator_url = fields.String(allow_none=True, metadata={"description": "Prometheus' link to the expression"})
    starts_at = Instant(metadata={"description": "When it started firing"})
    ends_at = Instant(allow_none=True, metadata={"description": "When it was resolved"})
    received_at = Instant(metadata={"description": "When the suite first heard of it"})
    unread = fields.Boolean(metadata={"description": "Received after the caller last read the alerts"})


class AlertsOut(Schema):
    items = fields.List(fields.Nested(AlertOut), metadata={"description": "Firing first, then newest first"})
    unread = fields.Integer(metadata={"description": "How many listed alerts the caller has not read (the bell)"})


class ReadIn(Schema):
    through = moment("Everything received up to this instant is read (the newest the caller was shown); "
                     "default: now")


class ReadOut(Schema):
    unread = fields.Integer(metadata={"description": "How many are still unread"})


class NoticeOut(Schema):
    kind = fields.String(metadata={"description": "assigned (the demand was given to the caller) | warning (one of "
                                                  "its clocks reached its warning threshold)"})
    demand_id = fields.String(metadata={"description": "The demand's id"})
    at = Instant(metadata={"description": "When it was assigned, or when the clock warned"})
    clock = fields.String(allow_none=True, metadata={"description": "first_response | resolution (warnings)"})
    title = fields.String(metadata={"description": "The demand's title"})
    enterprise_name = fields.String(allow_none=True, metadata={"description": "The enterprise, as submitted"})
    unread = fields.Boolean(metadata={"description": "After the caller's read mark"})


class NoticesOut(Schema):
    items = fields.List(fields.Nested(NoticeOut), metadata={
        "description": "The caller's open demands' notices of the last 7 days, newest first (at most 10)"})
    unread = fields.Integer(metadata={"description": "How many notices came after the caller's read mark"})
