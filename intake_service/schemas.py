"""Request and response shapes of the intake API (marshmallow; they also generate the OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from shared.reference import CATEGORIES, STREETS
from shared.validation import phone_problem, uscc_problem

CHANNELS = ("grid", "hotline_12345", "online_helpdesk", "fallback_window", "walk_in")
COMPLEXITIES = ("simple", "complex", "difficult")
MAX_FUTURE = timedelta(minutes=5)
MAX_PAST = timedelta(days=30)


class EnterpriseIn(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    uscc = fields.String(required=True, metadata={"description": "18-character unified social credit code"})
    contact_name = fields.String(required=True, validate=validate.Length(1, 100))
    contact_phone = fields.String(required=True, metadata={"description": "mainland mobile or landline"})

    @validates("uscc")
    def _uscc(self, value: str, **_: object) -> None:
        problem = uscc_problem(value)
        if problem:
            raise ValidationError(problem)

    @validates("contact_phone")
    def _phone(self, value: str, **_: object) -> None:
        problem = phone_problem(value)
        if problem:
            raise ValidationError(problem)


class DemandIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    street = fields.String(required=True, validate=validate.OneOf(sorted(STREETS)))
    grid = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    category = fields.String(required=True, validate=validate.OneOf(sorted(CATEGORIES)))
    complexity = fields.String(load_default="simple", validate=validate.OneOf(COMPLEXITIES))
    title = fields.String(required=True, validate=validate.Length(1, 120))
    description = fields.String(required=True, validate=validate.Length(1, 5000))
    enterprise = fields.Nested(EnterpriseIn, required=True)
    reported_at = fields.AwareDateTime(load_default=None, allow_none=True,
                                       metadata={"description": "ISO-8601 with offset; default now"})

    @validates_schema
    def _reported_at_window(self, data: dict, **_: object) -> None:
        reported = data.get("reported_at")
        if reported is None:
            return
        now = datetime.now(UTC)
        if reported > now + MAX_FUTURE:
            raise ValidationError("must not be more than 5 minutes in the future", "reported_at")
        if reported < now - MAX_PAST:
            raise ValidationError("must not be more than 30 days in the past", "reported_at")


class EnterpriseOut(Schema):
    name = fields.String()
    uscc = fields.String()
    contact_name = fields.String()
    contact_phone = fields.String(metadata={"description": "masked unless the caller is the assignee or a supervisor"})
    key_enterprise = fields.Boolean()


class TimelineOut(Schema):
    kind = fields.String()
    at = fields.AwareDateTime()
    actor_id = fields.String(allow_none=True)
    details = fields.Dict()


class DemandOut(Schema):
    id = fields.String()
    status = fields.String()
    channel = fields.String()
    street = fields.String()
    grid = fields.String(allow_none=True)
    category = fields.String()
    complexity = fields.String()
    title = fields.String()
    description = fields.String()
    enterprise = fields.Nested(EnterpriseOut)
    assignee_id = fields.String(allow_none=True)
    reported_at = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    timeline = fields.List(fields.Nested(TimelineOut))
