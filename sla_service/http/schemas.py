"""The schemas of SLA's HTTP API: what the endpoints answer and the query parameters they take."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.calendar import SOURCES
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import CHANNELS, CLOCK_KINDS
from shared.fields import DemandFactsOut, Instant, Token, count, day, month
from sla_service.domain.clock import STATUSES
from sla_service.domain.compliance import OUTCOMES, RATES


class DeadlineOut(Schema):
    date = fields.String(metadata={"description": "YYYY-MM-DD in Asia/Shanghai"})
    time = fields.String(metadata={"description": "HH:MM in Asia/Shanghai"})
    weekday = fields.Integer(metadata={"description": "ISO weekday: 1 = Monday ... 7 = Sunday"})


class ClockOut(Schema):
    kind = fields.String(validate=validate.OneOf(CLOCK_KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={
        "description": "running | paused while open; met | breached once stopped (breached for good once past "
                       "the target, even after an extension); cancelled: stopped because the demand was "
                       "withdrawn, rejected or merged (counted in no rate)"})
    started_at = Instant()
    target_at = Instant(allow_none=True, metadata={
        "description": "When the used time reaches (or reached) the target; null while paused or once met"})
    calendar_source = fields.String(allow_none=True, validate=validate.OneOf(SOURCES), metadata={
        "description": "What the working days up to target_at rest on: estimate (a year with no official "
                       "schedule yet: the deadline may move when it is entered), official (an operator's entry) "
                       "or library (chinesecalendar); null without target_at"})
    stopped_at = Instant(allow_none=True)
    business_seconds_used = fields.Float(metadata={"description": "Business time used so far (live while running)"})
    business_seconds_target = fields.Integer(metadata={
        "description": "The target, including what approved extensions added"})
    business_seconds_extended = fields.Integer(metadata={
        "description": "What approved extensions (延期) added to the target (0 if none)"})
    business_seconds_left = fields.Float(metadata={
        "description": "Business time left (target minus used; negative once past). One working day is "
                       "policy.seconds_per_working_day business seconds"})
    deadline = fields.Nested(DeadlineOut, allow_none=True, metadata={
        "description": "target_at as the working-time deadline's text parts; null while paused or once met"})


class PolicyOut(Schema):
    channel = fields.String()
    complexity = fields.String()
    warning_fraction = fields.Float()
    seconds_per_working_day = fields.Integer()


class DemandClocksOut(Schema):
    demand_id = fields.String()
    state = fields.String(metadata={"description": "As SLA counts it: open, under_review, resolved, closed, "
                                                   "or withdrawn, rejected, merged (excluded from every rate)"})
    extensions = fields.Integer(metadata={"description": "Approved extensions of the resolution target"})
    merged_into = fields.String(allow_none=True, metadata={"description": "The surviving demand, if merged"})
    policy = fields.Nested(PolicyOut, metadata={"description": "The policy the demand is timed by"})
    clocks = fields.List(fields.Nested(ClockOut))


class _Query(Schema):
    street = fields.String(validate=validate.OneOf(list(STREETS)))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    category = fields.String(validate=validate.OneOf(list(CATEGORIES)))
    first_day = day("First day, inclusive (Asia/Shanghai)", data_key="from")
    last_day = day("Last day, inclusive (Asia/Shanghai)", data_key="to")

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("first_day") and data.get("last_day") and data["first_day"] > data["last_day"]:
            raise ValidationError("must not be before 'from'", "to")


class SummaryQuery(_Query):
    """Demands reported on the days ``from``..``to``."""


class RateOut(Schema):
    numerator = fields.Integer()
    denominator = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "null when the denominator is 0"})
    target = fields.Float()
    meets_target = fields.Boolean(allow_none=True)


class ExcludedCounts(Schema):
    """The demands left out of every rate's numerator and denominator, counted apart."""

    withdrawn = fields.Integer(metadata={"description": "Withdrawn (撤销): in no rate"})
    rejected = fields.Integer(metadata={"description": "Not accepted (不予受理): in no rate"})
    merged = fields.Integer(metadata={"description": "Merged into another demand (重复): in no rate"})
    excluded = fields.Integer(metadata={"description": "withdrawn + rejected + merged"})
    excluded_note = fields.String(metadata={"description": "That they are excluded, in words"})


class DepartmentFiguresOut(Schema):
    """One holder group's department clock (OLA) figures over the holder spans that ended in the period."""

    department = fields.String(metadata={
        "description": "A department code, `street` (the street's own officers) or `unknown` (an old event)"})
    department_name = fields.String(metadata={"description": "Its Chinese name"})
    spans = fields.Integer(metadata={"description": "Holding periods that ended on the days `from`..`to`"})
    median_business_seconds = fields.Float(metadata={
        "description": "Median holding time in business seconds (time awaiting the enterprise excluded)"})
    p90_business_seconds = fields.Float(metadata={"description": "90th percentile holding time, business seconds"})
    median_working_days = fields.Float(metadata={"description": "The median in working days"})
    p90_working_days = fields.Float(metadata={"description": "The 90th percentile in working days"})
    target_business_seconds = fields.Integer(allow_none=True, metadata={
        "description": "The policy's holder target for the group now (`holder` in the policy file); null if none"})
    with_target = fields.Integer(metadata={"description": "Spans that had a target when they started"})
    on_time = fields.Integer(metadata={"description": "Of those, the spans that held the demand at most that long"})
    on_time_share = fields.Float(allow_none=True, metadata={
        "description": "on_time / with_target; null when no span had a target"})


class SummaryOut(ExcludedCounts):
    filters = fields.Dict(metadata={"description": "The filters applied (a supervisor's street filled in)"})
    demands = fields.Integer(metadata={
        "description": "Demands reported in the period that the rates count (withdrawn, rejected and merged "
                       "ones left out)"})
    reported = fields.Integer(metadata={"description": "All demands reported in the period: demands + excluded"})
    extended = fields.Integer(metadata={
        "description": "Counted demands whose resolution target an approved extension (延期) moved; they count "
                       "in the rates against the extended target"})
    first_response_compliance = fields.Nested(RateOut, metadata={
        "description": "first-response clocks met / met or breached"})
    on_time_resolution_rate = fields.Nested(RateOut, metadata={
        "description": "resolution clocks met / met or breached"})
    resolution_rate = fields.Nested(RateOut, metadata={
        "description": "closed demands with outcome `resolved` / all closed demands (closed: resolved with any "
                       "outcome, or closed without a resolution, and not reopened since)"})
    departments = fields.List(fields.Nested(DepartmentFiguresOut), metadata={
        "description": "Department clocks (OLA): per holder group, the holding periods that *ended* on the days "
                       "`from`..`to` (not the demands reported then) in the street, channel and category asked"})


class BreachQuery(_Query):
    """Breaches whose clock reached its target on the days ``from``..``to``."""

    kind = fields.String(validate=validate.OneOf(CLOCK_KINDS))
    key_enterprise = fields.Boolean()
    limit = count(1, 200, load_default=50)
    cursor = Token(300, metadata={"description": "next_cursor of the previous page (opaque)"})


class BreachOut(DemandFactsOut):
    kind = fields.String()
    key_enterprise = fields.Boolean()
    breached_at = Instant(metadata={"description": "When the used time reached the target"})
    stopped_at = Instant(allow_none=True, metadata={"description": "null while still open"})
    business_seconds_target = fields.Integer()


class BreachPage(Schema):
    items = fields.List(fields.Nested(BreachOut))
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class RateDemandsQuery(_Query):
    """The demands a rate counts, among those reported on the days ``from``..``to``."""

    rate = fields.String(required=True, validate=validate.OneOf(RATES), metadata={
        "description": "Which rate of the summary: its demands are those counted in its denominator"})
    outcome = fields.String(validate=validate.OneOf(OUTCOMES), metadata={
        "description": "`met`: the numerator's demands; `missed`: the rest of the denominator; both if left out"})
    limit = count(1, 200, load_default=50)
    offset = count(0, 100_000, load_default=0)


class RateDemandOut(DemandFactsOut):
    key_enterprise = fields.Boolean()
    reported_at = Instant()
    counted_as = fields.String(validate=validate.OneOf(OUTCOMES), metadata={
        "description": "`met` (in the numerator) or `missed` (in the denominator only)"})
    deadline_passed_at = Instant(allow_none=True, metadata={
        "description": "The deadline the clock missed (null when met, and for the resolution rate)"})
    ended_at = Instant(allow_none=True, metadata={
        "description": "When the clock stopped (null while a breached clock still runs), or when the demand "
                       "was closed (resolution rate)"})
    resolution_outcome = fields.String(allow_none=True, metadata={
        "description": "The outcome it was closed with (resolution rate only)"})


class RateDemandPage(ExcludedCounts):
    rate = fields.String()
    outcome = fields.String(allow_none=True)
    filters = fields.Dict(metadata={"description": "The filters applied (a supervisor's street filled in)"})
    met = fields.Integer(metadata={"description": "How many were met: the summary's numerator"})
    missed = fields.Integer(metadata={"description": "How many were missed: met + missed is the denominator"})
    items = fields.List(fields.Nested(RateDemandOut), metadata={"description": "missed first, then newest first"})
    next_offset = fields.Integer(allow_none=True, metadata={"description": "null on the last page"})


REPORT_ROWS = ("street", "department")


class ReportQuery(Schema):
    month = month("The month, YYYY-MM", required=True)
    by = fields.String(load_default="street", validate=validate.OneOf(REPORT_ROWS), metadata={
        "description": "`street` (default): the compliance rates per street; `department`: the department "
                       "clocks (OLA) per holder group, over the holding periods that ended in the month"})
