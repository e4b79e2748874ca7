"""Request and response shapes of the intake API (marshmallow; they also generate the OpenAPI document)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates

from intake_service.domain.policy import DUPLICATE_WINDOW_DAYS, MAX_DUPLICATES, SLA_STATUSES, STATUSES
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import CHANNELS, COMPLEXITIES
from shared.fields import Instant, Phone, Text, Token, Uscc, count, moment

MAX_FUTURE = timedelta(minutes=5)
MAX_PAST = timedelta(days=30)
STREET_CODES = sorted(STREETS)
CATEGORY_CODES = sorted(CATEGORIES)


def _reported_at_window(value: datetime) -> None:
    """SLA clocks start at reported_at: a typo must not start them in the future or a month ago."""
    now = datetime.now(UTC)
    if value > now + MAX_FUTURE:
        raise ValidationError("must not be more than 5 minutes in the future")
    if value < now - MAX_PAST:
        raise ValidationError("must not be more than 30 days in the past")


USCC_DOC = {"description": "18-character unified social credit code (GB 32100-2015, checksum verified)",
            "example": "91310110MA4PFF8Q3P"}
PHONE_DOC = {"description": "mainland mobile (13812345678) or landline with area code (021-65432100[-ext])",
             "example": "13812345678"}


class EnterpriseIn(Schema):
    name = Text(validate=validate.Length(1, 200), metadata={
        "description": "registered name; may be omitted when the registry knows the USCC (it is filled in)"})
    uscc = Uscc(required=True, validate=validate.Length(18, 18), metadata=USCC_DOC)
    contact_name = Text(required=True, validate=validate.Length(1, 100),
                        metadata={"description": "the enterprise's contact person"})
    contact_phone = Phone(required=True, metadata=PHONE_DOC)


class DemandIn(Schema):
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS), metadata={
        "description": "grid: grid workers; hotline_12345: hotline agents; online_helpdesk: help-desk agents; "
                       "fallback_window (办不成事 window) and walk_in: officers and supervisors"})
    street = fields.String(required=True, validate=validate.OneOf(STREET_CODES),
                           metadata={"description": "street (街道) code"})
    grid = Text(load_default=None, allow_none=True,
                validate=[validate.Length(max=64), validate.Regexp(r"^[A-Za-z0-9._-]{1,64}$")],
                metadata={"description": "grid (网格) code within the street"})
    category = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES),
                             metadata={"description": "category code (Open311: the service_code)"})
    complexity = fields.String(load_default="simple", validate=validate.OneOf(COMPLEXITIES),
                               metadata={"description": "sets the SLA targets; default simple"})
    title = Text(required=True, validate=validate.Length(1, 120), metadata={"description": "1-120 characters"})
    description = Text(required=True, validate=validate.Length(1, 5000),
                       metadata={"description": "1-5000 characters"})
    enterprise = fields.Nested(EnterpriseIn, required=True, metadata={"description": "who needs help"})
    reported_at = moment("when the enterprise raised it, ISO-8601 with offset; default now; at most 5 minutes "
                         "ahead and 30 days back", load_default=None, allow_none=True)

    @validates("reported_at")
    def _reported_at(self, value: datetime | None, **_: object) -> None:
        if value is not None:
            _reported_at_window(value)


class IdempotencyHeaders(Schema):
    class Meta:
        unknown = EXCLUDE

    idempotency_key = Token(
        200, data_key="Idempotency-Key",
        metadata={"description": "Makes retries safe: the same key with the same body returns the original "
                                 "demand; with a different body it is refused (409). Scoped to the caller."})


class EnterpriseOut(Schema):
    name = fields.String(metadata={"description": "registered name (from the registry when it knows the USCC)"})
    uscc = fields.String(metadata={"description": "unified social credit code"})
    key_enterprise = fields.Boolean(metadata={"description": "a key enterprise (重点企业) of its street"})
    chief_officer_id = fields.String(allow_none=True, metadata={"description": "its chief service officer"})
    contact_name = fields.String(metadata={"description": "the enterprise's contact person"})
    contact_phone = fields.String(metadata={"description": "masked unless the caller is the assignee or a supervisor"})


class DemandSummary(Schema):
    id = fields.String(metadata={"description": "demand id (UUID)"})
    status = fields.String(metadata={"enum": list(STATUSES), "description": "where the demand stands"})
    channel = fields.String(metadata={"enum": list(CHANNELS)})
    street = fields.String(metadata={"description": "street (街道) code"})
    grid = fields.String(allow_none=True, metadata={"description": "grid (网格) code"})
    category = fields.String(metadata={"description": "category code"})
    complexity = fields.String(metadata={"enum": list(COMPLEXITIES)})
    title = fields.String(metadata={"description": "short title"})
    enterprise = fields.Nested(EnterpriseOut)
    assignee_id = fields.String(allow_none=True, metadata={"description": "officer currently responsible"})
    department = fields.String(allow_none=True, metadata={"description": "department it was transferred to"})
    outcome = fields.String(allow_none=True, metadata={"description": "resolved | explained | unresolvable"})
    satisfaction = fields.String(allow_none=True, metadata={"description": "the enterprise's feedback"})
    escalated = fields.Boolean(metadata={"description": "escalated at least once since it was logged"})
    sla_status = fields.String(metadata={"enum": list(SLA_STATUSES),
                                         "description": "worst SLA alert so far"})
    reported_at = Instant(metadata={"description": "when the enterprise raised it (SLA clocks start)"})
    received_at = Instant(metadata={"description": "when intake stored it"})
    updated_at = Instant(metadata={"description": "when the view last changed"})


class TimelineOut(Schema):
    kind = fields.String(metadata={"description": "submitted, assigned, acknowledged, materials_requested, "
                                                  "materials_received, transferred, resolved, escalated, "
                                                  "feedback_received, reopened, closed, extension_requested, "
                                                  "extension_approved, extension_refused, returned, "
                                                  "review_approved, sent_back, withdrawn, rejected, merged, "
                                                  "merged_in (a demand merged into this one), sla_warning, "
                                                  "sla_breached, sla_retimed (a new working calendar moved a "
                                                  "deadline)"})
    at = Instant(metadata={"description": "when it happened"})
    actor_id = fields.String(allow_none=True, metadata={"description": "who did it (user id, routing or sla)"})
    details = fields.Dict(metadata={"description": "the event's facts, e.g. officer_id, outcome, reason; "
                                                   "merged_from names the merged demand an entry came from"})


class AttachmentOut(Schema):
    id = fields.String(metadata={"description": "attachment id (UUID)"})
    filename = fields.String(metadata={"description": "the sent file's name, cleaned, with the extension of "
                                                      "what the file really is"})
    content_type = fields.String(metadata={"enum": ["image/jpeg", "image/png", "image/webp", "application/pdf"],
                                           "description": "judged from the file's contents"})
    size = fields.Integer(metadata={"description": "bytes stored (after metadata was stripped)"})
    sha256 = fields.String(metadata={"description": "SHA-256 of the bytes stored, hex"})
    location_kept = fields.Boolean(metadata={"description": "the sender kept the photo's EXIF (GPS included); "
                                                            "otherwise only its orientation is kept"})
    uploaded_by = fields.String(metadata={"description": "who attached it"})
    uploaded_at = Instant(metadata={"description": "when intake stored it"})


class AttachmentList(Schema):
    items = fields.List(fields.Nested(AttachmentOut), metadata={"description": "in the order they were added"})


class AttachmentForm(Schema):
    """The form fields of an upload besides the file (read by the view: the file is not a schema field)."""

    class Meta:
        unknown = EXCLUDE

    keep_location = fields.Boolean(load_default=False, metadata={
        "description": "true keeps the photo's EXIF as sent, GPS location included; by default everything but "
                       "the orientation is stripped"})


class DemandOut(DemandSummary):
    description = fields.String(metadata={"description": "the demand in the enterprise's words"})
    created_by = fields.String(metadata={"description": "who logged it"})
    warnings = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), metadata={
        "description": "differences from the enterprise registry by field path; not errors"})
    timeline = fields.List(fields.Nested(TimelineOut), metadata={"description": "oldest first"})
    attachments = fields.List(fields.Nested(AttachmentOut), metadata={"description": "photos and scans, oldest first"})


class DemandCreated(DemandOut):
    likely_duplicates = fields.List(fields.String(), metadata={
        "description": "ids of open demands of the same enterprise (USCC) and category received in the last "
                       f"{DUPLICATE_WINDOW_DAYS} days: the new one may repeat them (it is stored all the same)"})


class DuplicateQuery(Schema):
    uscc = Uscc(required=True, validate=validate.Length(18, 18), metadata=USCC_DOC)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORY_CODES),
                             metadata={"description": "category code"})


class DuplicateOut(Schema):
    id = fields.String(allow_none=True, metadata={
        "description": "demand id, or null when the caller may not open that demand"})
    number = fields.String(metadata={"description": "the demand's number (its id's first 8 characters)"})
    title = fields.String(metadata={"description": "short title"})
    status = fields.String(metadata={"enum": list(STATUSES)})
    received_at = Instant(metadata={"description": "when intake stored it"})


class DuplicateList(Schema):
    items = fields.List(fields.Nested(DuplicateOut), metadata={
        "description": f"newest first, at most {MAX_DUPLICATES}"})


class DemandQuery(Schema):
    street = fields.String(validate=validate.OneOf(STREET_CODES), metadata={
        "description": "street code; grid workers and supervisors may only ask for their own"})
    channel = fields.String(validate=validate.OneOf(CHANNELS), metadata={"description": "channel"})
    category = fields.String(validate=validate.OneOf(CATEGORY_CODES), metadata={"description": "category code"})
    status = fields.String(validate=validate.OneOf(STATUSES), metadata={"description": "current status"})
    uscc = Uscc(metadata={"description": "enterprise USCC"})
    reported_from = moment("reported at or after (ISO-8601 with offset)")
    reported_to = moment("reported before (ISO-8601 with offset)")
    limit = count(1, 100, load_default=20, metadata={"description": "page size, 1-100 (default 20)"})
    cursor = Token(200, metadata={"description": "next_cursor of the previous page (opaque)"})


class DemandPage(Schema):
    items = fields.List(fields.Nested(DemandSummary), metadata={"description": "newest first"})
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class LinkOut(Schema):
    url = fields.String(metadata={"description": "The link to give the enterprise (shown once: only its hash is "
                                                 "kept; asking again issues a new one and the old stops working)"})
    page = fields.String(metadata={"description": "Intake's page that shows the link as a QR code"})
    issued_at = Instant(metadata={"description": "When this link was issued"})
    expires_at = Instant(allow_none=True, metadata={
        "description": "30 days after the demand was closed; null while it is open"})
