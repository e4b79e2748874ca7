"""Open311 GeoReport v2 on top of intake, so existing civic-issue clients can file and follow demands.

Mapping: a service is a demand category (``service_code`` = category code); a service request is a demand
(``service_request_id`` = demand id). What GeoReport has no field for travels as service attributes
(``attribute[uscc]``, ``attribute[street]``, ...), described by ``GET /services/{code}.json``. The contact
phone may come as ``attribute[contact_phone]`` or the standard ``phone``; the contact name as
``attribute[contact_name]`` or ``last_name`` + ``first_name``. ``jurisdiction_id``, ``lat``/``long``,
``address_string``, ``address_id``, ``email``, ``device_id``, ``account_id`` and ``media_url`` are accepted
and not stored (the street is the location that matters here). Only the JSON format is served.

Authentication: the suite's bearer token, as everywhere. Because many Open311 clients can only send the
spec's ``api_key``, a POST without an ``Authorization`` header may carry the same token in the ``api_key``
form field. GET requests take the header only (tokens in query strings end up in logs). Roles and
visibility are exactly those of ``/api/v1/demands``.

Errors follow the spec: a JSON list of ``{"code": <HTTP status>, "description": "<field>: <problem>"}``;
invalid input is ``400`` (the spec has no 422).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Response, request, url_for
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, validate

from intake_service import commands, queries
from intake_service.domain import IntakeRefused
from intake_service.domain.policy import CHANNELS_BY_ROLE, default_channel, open311_status
from intake_service.http import caller, ctx
from intake_service.http.schemas import (
    CATEGORY_CODES,
    PHONE_DOC,
    STREET_CODES,
    USCC_DOC,
    DemandIn,
    IdempotencyHeaders,
)
from intake_service.model import Demand
from shared.contracts.reference import CATEGORIES, DEPARTMENTS, STREETS
from shared.contracts.vocabulary import CHANNELS, COMPLEXITIES
from shared.fields import Instant, Text, Token, moment
from shared.validation import EARLIEST, flatten_errors
from shared.webkit.app import BEARER
from shared.webkit.auth import require
from shared.webkit.inputs import ApiBlueprint

blp = ApiBlueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2: categories as services, demands as service requests")


F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_WINDOW = timedelta(days=90)  # the spec's default span of GET requests
MAX_RESULTS = 1000
MAX_IDS = 100

# Where each demand field comes from in an Open311 request, for error messages in the client's terms.
FIELD_NAMES = {
    "category": "service_code", "description": "description", "title": "attribute[title]",
    "street": "attribute[street]", "grid": "attribute[grid]", "complexity": "attribute[complexity]",
    "channel": "attribute[channel]", "reported_at": "attribute[reported_at]", "enterprise": "attribute[uscc]",
    "enterprise.uscc": "attribute[uscc]", "enterprise.name": "attribute[enterprise_name]",
    "enterprise.contact_name": "attribute[contact_name]", "enterprise.contact_phone": "attribute[contact_phone]",
}


# --- shapes -------------------------------------------------------------------------------------------------


class Open311Error(Schema):
    code = fields.Integer(metadata={"description": "the HTTP status"})
    description = fields.String(metadata={"description": "what went wrong; field problems start with the field"})


class ServiceOut(Schema):
    service_code = fields.String(metadata={"description": "the category code"})
    service_name = fields.String(metadata={"description": "the category's Chinese name"})
    description = fields.String(metadata={"description": "the category and the department behind it"})
    metadata = fields.Boolean(metadata={"description": "always true: the attributes carry the enterprise"})
    type = fields.String(metadata={"description": "realtime: the request id is returned at once"})
    keywords = fields.String(metadata={"description": "the code in words"})
    group = fields.String(metadata={"description": "the department the category belongs to"})


class AttributeValue(Schema):
    key = fields.String(metadata={"description": "the value to send"})
    name = fields.String(metadata={"description": "what it means"})


class AttributeOut(Schema):
    variable = fields.Boolean(metadata={"description": "always true: the client sends a value"})
    code = fields.String(metadata={"description": "send as attribute[<code>]"})
    datatype = fields.String(metadata={"enum": ["string", "number", "datetime", "text", "singlevaluelist",
                                                "multivaluelist"]})
    required = fields.Boolean(metadata={"description": "whether a request without it is refused"})
    datatype_description = fields.String(allow_none=True, metadata={"description": "format and alternatives"})
    order = fields.Integer(metadata={"description": "display order"})
    description = fields.String(metadata={"description": "what the attribute is"})
    values = fields.List(fields.Nested(AttributeValue), metadata={"description": "the choices of a list"})


class ServiceDefinitionOut(Schema):
    service_code = fields.String(metadata={"description": "the category code"})
    attributes = fields.List(fields.Nested(AttributeOut), metadata={"description": "service attributes"})


class RequestForm(Schema):
    """POST /requests.json, form-encoded. The spec's fields first, then the service attributes."""

    class Meta:
        unknown = EXCLUDE

    api_key = Token(4096, metadata={"description": "the bearer token, for clients that cannot send an "
                                                     "Authorization header"})
    jurisdiction_id = Text(validate=validate.Length(max=200),
        metadata={"description": "accepted and ignored (one jurisdiction)"})
    service_code = Token(64, required=True, metadata={"description": "a category code", "enum": CATEGORY_CODES})
    lat = fields.Float(validate=validate.Range(-90, 90), metadata={"description": "accepted, not stored"})
    long = fields.Float(validate=validate.Range(-180, 180), metadata={"description": "accepted, not stored"})
    address_string = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    address_id = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    email = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    device_id = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    account_id = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    first_name = Text(validate=validate.Length(max=200),
        metadata={"description": "contact's given name, if attribute[contact_name] is absent"})
    last_name = Text(validate=validate.Length(max=200), metadata={"description": "contact's family name"})
    phone = Text(validate=validate.Length(max=200),
        metadata={"description": "contact phone, if attribute[contact_phone] is absent"})
    description = Text(validate=validate.Length(max=5000), required=True,
        metadata={"description": "the demand, 1-5000 characters"})
    media_url = Text(validate=validate.Length(max=200), metadata={"description": "accepted, not stored"})
    street = fields.String(validate=validate.OneOf(STREET_CODES), data_key="attribute[street]", required=True,
        metadata={"description": "street (街道) code", "enum": STREET_CODES})
    uscc = Text(validate=validate.Length(max=200), data_key="attribute[uscc]", required=True, metadata=USCC_DOC)
    enterprise_name = Text(validate=validate.Length(max=200), data_key="attribute[enterprise_name]",
        metadata={"description": "required unless the registry knows the USCC"})
    contact_name = Text(validate=validate.Length(max=200), data_key="attribute[contact_name]",
        metadata={"description": "contact person; or send last_name and first_name"})
    contact_phone = Text(validate=validate.Length(max=200), data_key="attribute[contact_phone]", metadata=PHONE_DOC)
    title = Text(validate=validate.Length(max=200), data_key="attribute[title]",
        metadata={"description": "default: the description's first line, cut to 120"})
    grid = Text(validate=validate.Length(max=200), data_key="attribute[grid]",
        metadata={"description": "grid (网格) code"})
    complexity = fields.String(validate=validate.OneOf(list(COMPLEXITIES)), data_key="attribute[complexity]",
        metadata={"enum": list(COMPLEXITIES)})
    channel = fields.String(validate=validate.OneOf(list(CHANNELS)), data_key="attribute[channel]", metadata={
        "enum": list(CHANNELS), "description": "default: the caller's role's channel"})
    reported_at = Token(40, data_key="attribute[reported_at]",
        metadata={"description": "ISO-8601 with offset; default now"})


class RequestCreated(Schema):
    service_request_id = fields.String(metadata={"description": "the demand id"})
    service_notice = fields.String(allow_none=True, metadata={"description": "registry warnings, if any"})
    account_id = fields.String(allow_none=True, metadata={"description": "always null (no accounts)"})


class RequestOut(Schema):
    service_request_id = fields.String(metadata={"description": "the demand id"})
    status = fields.String(metadata={"enum": ["open", "closed"], "description": "closed once resolved"})
    status_notes = fields.String(allow_none=True, metadata={"description": "the detailed status and outcome"})
    service_name = fields.String(metadata={"description": "the category's name"})
    service_code = fields.String(metadata={"description": "the category code"})
    description = fields.String(metadata={"description": "the demand"})
    agency_responsible = fields.String(allow_none=True, metadata={
        "description": "the department it was transferred to, else the street"})
    service_notice = fields.String(allow_none=True, metadata={"description": "registry warnings, if any"})
    requested_datetime = Instant(metadata={"description": "when the enterprise raised it"})
    updated_datetime = Instant(metadata={"description": "last change"})
    expected_datetime = Instant(allow_none=True, metadata={"description": "always null"})
    address = fields.String(allow_none=True, metadata={"description": "the street's name"})
    address_id = fields.String(allow_none=True, metadata={"description": "the street code"})
    zipcode = fields.String(allow_none=True, metadata={"description": "always null"})
    lat = fields.Float(allow_none=True, metadata={"description": "always null (not stored)"})
    long = fields.Float(allow_none=True, metadata={"description": "always null (not stored)"})
    media_url = fields.String(allow_none=True, metadata={"description": "always null (not stored)"})


class RequestsQuery(Schema):
    api_key = Token(4096, metadata={"description": "ignored: GET requests authenticate with the Authorization "
                                                     "header only (a token in a URL ends up in logs)"})
    jurisdiction_id = Text(validate=validate.Length(max=200), metadata={"description": "accepted and ignored"})
    service_request_id = Text(validate=validate.Length(max=4000),
        metadata={"description": f"comma-separated ids (at most {MAX_IDS}); "
                                                                "when given, the other filters are ignored"})
    service_code = Text(validate=validate.Length(max=4000), metadata={"description": "comma-separated category codes"})
    start_date = moment("requested at or after; default end_date - 90 days")
    end_date = moment("requested before; default now")
    status = Text(validate=validate.Length(max=4000), metadata={"description": "comma-separated: open, closed"})


# --- errors and authentication in the spec's terms ----------------------------------------------------------


_ERROR_TEXTS = {400: "Invalid input, one entry per problem.", 401: "No valid bearer token.",
                403: "The role may not do this.", 404: "No such service or request.",
                409: "The Idempotency-Key was used with a different request."}


def _errors_doc(*statuses: int) -> Callable[[F], F]:
    """Document the spec's error list for each status an Open311 endpoint may answer with."""

    def decorator(func: F) -> F:
        for status in statuses:
            func = blp.alt_response(status, schema=Open311Error(many=True), description=_ERROR_TEXTS[status])(func)
        return func

    return decorator


@blp.after_request
def _spec_errors(response: Response) -> Response:
    """Turn the suite's error object into GeoReport's error list, with field names as the client sent them.

    The one place Open311 answers a refusal: :class:`IntakeRefused` (and the token guard's and the input
    layer's errors) arrive here in the suite's shape; "invalid" is 400, since the spec has no 422.
    """
    if response.status_code < 400 or not response.is_json:
        return response
    payload = response.get_json(silent=True)
    if not isinstance(payload, dict) or "message" not in payload:
        return response
    status = 400 if response.status_code == 422 else response.status_code
    items = [{"code": status, "description": f"{FIELD_NAMES.get(path, path)}: {problem}"}
             for path, problems in (payload.get("errors") or {}).items() for problem in problems]
    response.set_data(json.dumps(items or [{"code": status, "description": payload["message"]}],
                                 ensure_ascii=False))
    response.status_code = status
    return response


def _api_key_as_bearer(view: F) -> F:
    """Let a POST without an Authorization header authenticate with its ``api_key`` form field."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        api_key = request.form.get("api_key", "").strip()
        if api_key and "Authorization" not in request.headers:
            request.environ["HTTP_AUTHORIZATION"] = f"Bearer {api_key}"
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


# --- services -----------------------------------------------------------------------------------------------


def _attributes() -> list[dict[str, Any]]:
    def attr(order: int, code: str, description: str, datatype: str = "string", required: bool = False,
             datatype_description: str | None = None, values: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        return {"variable": True, "code": code, "datatype": datatype, "required": required,
                "datatype_description": datatype_description, "order": order, "description": description,
                "values": [{"key": k, "name": n} for k, n in values or []]}

    return [
        attr(1, "street", "Street (街道) where the enterprise needs help", "singlevaluelist", True,
             values=[(s.code, s.name_zh) for s in STREETS.values()]),
        attr(2, "uscc", "Unified social credit code of the enterprise", required=True,
             datatype_description="18 characters, checksum per GB 32100-2015"),
        attr(3, "enterprise_name", "Registered name of the enterprise",
             datatype_description="required unless the registry knows the USCC"),
        attr(4, "contact_name", "Contact person", datatype_description="or send last_name and first_name"),
        attr(5, "contact_phone", "Contact phone", datatype_description="mainland mobile or landline; or send phone"),
        attr(6, "title", "Short title", datatype_description="at most 120 characters; default: from description"),
        attr(7, "grid", "Grid (网格) code within the street"),
        attr(8, "complexity", "How hard the demand is", "singlevaluelist",
             values=[(c, c) for c in COMPLEXITIES]),
        attr(9, "channel", "Channel it came in on (default: the caller's)", "singlevaluelist",
             values=[(c, c) for c in CHANNELS]),
        attr(10, "reported_at", "When the enterprise raised it", "datetime",
             datatype_description="ISO-8601 with offset; at most 5 minutes ahead, 30 days back"),
    ]


@blp.route("/services.json", methods=["GET"])
@require()
@blp.response(200, ServiceOut(many=True))
@_errors_doc(401)
@blp.doc(security=BEARER)
def list_services() -> list[dict[str, Any]]:
    """Every demand category as a GeoReport service."""
    return [{"service_code": c.code, "service_name": c.name_zh,
             "description": f"{c.name_zh} — {DEPARTMENTS[c.department].name_en}", "metadata": True,
             "type": "realtime", "keywords": c.code.replace("_", " "), "group": DEPARTMENTS[c.department].name_zh}
            for c in CATEGORIES.values()]


@blp.route("/services/<service_code>.json", methods=["GET"])
@require()
@blp.response(200, ServiceDefinitionOut)
@_errors_doc(401, 404)
@blp.doc(security=BEARER)
def service_definition(service_code: str) -> dict[str, Any]:
    """The attributes a request for this service carries."""
    if service_code not in CATEGORIES:
        raise IntakeRefused("not_found", f"no service {service_code}")
    return {"service_code": service_code, "attributes": _attributes()}


# --- requests -----------------------------------------------------------------------------------------------


def _demand_body(form: dict[str, Any], role: str) -> dict[str, Any]:
    """The Open311 form as a POST /api/v1/demands body, validated by the same schema (refused if invalid)."""
    description = form["description"]
    derived_title = form.get("title") is None
    contact_name = form.get("contact_name")
    if contact_name is None and (form.get("last_name") or form.get("first_name")):
        contact_name = f"{form.get('last_name', '')}{form.get('first_name', '')}"
    enterprise = {"uscc": form["uscc"], "contact_name": contact_name,
                  "contact_phone": form.get("contact_phone", form.get("phone"))}
    if form.get("enterprise_name") is not None:
        enterprise["name"] = form["enterprise_name"]
    raw = {
        "channel": form.get("channel") or default_channel(role), "street": form["street"],
        "category": form["service_code"], "description": description,
        "title": form["title"] if not derived_title else description.strip().split("\n", 1)[0][:120],
        "enterprise": {k: v for k, v in enterprise.items() if v is not None},
        **{k: form[k] for k in ("grid", "complexity", "reported_at") if form.get(k) is not None},
    }
    try:
        return DemandIn().load(raw)
    except ValidationError as exc:
        problems = flatten_errors(exc.messages)
        if derived_title:
            problems.pop("title", None)  # the description's own problem says it
        names = dict(FIELD_NAMES)
        if form.get("contact_phone") is None:
            names["enterprise.contact_phone"] = "phone" if form.get("phone") is not None else names[
                "enterprise.contact_phone"]
        raise IntakeRefused("invalid", "some fields are invalid",
                            {names.get(k, k): v for k, v in problems.items()}) from None


@blp.route("/requests.json", methods=["POST"])
@_api_key_as_bearer
@require(*CHANNELS_BY_ROLE)
@blp.arguments(IdempotencyHeaders(), location="headers", error_status_code=400)
@blp.arguments(RequestForm(), location="form", error_status_code=400)
@blp.response(201, RequestCreated(many=True), headers={
    "Location": {"description": "URL of the service request", "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this answers a retry", "schema": {"type": "string"}}})
@_errors_doc(400, 401, 403, 409)
@blp.doc(security=BEARER)
def create_request(headers: dict[str, Any], form: dict[str, Any]) -> tuple[list[dict[str, Any]], int, dict[str, str]]:
    """File a service request: it becomes a demand, under the same rules as POST /api/v1/demands."""
    who = caller()
    logged = commands.log_demand(ctx(), who, _demand_body(form, who.role), headers.get("idempotency_key"))
    demand = logged.demand
    return ([{"service_request_id": demand.id, "service_notice": _notice(demand), "account_id": None}], 201,
            {"Location": url_for("open311.get_request", request_id=demand.id),
             "Idempotent-Replayed": "true" if logged.replayed else "false"})


@blp.route("/requests/<request_id>.json", methods=["GET"])
@require()
@blp.response(200, RequestOut(many=True))
@_errors_doc(401, 403, 404)
@blp.doc(security=BEARER)
def get_request(request_id: str) -> list[dict[str, Any]]:
    """One service request (a list of one, as the spec has it)."""
    demand, _timeline = queries.readable_demand(ctx(), caller(), request_id)
    return [_request_view(demand)]


@blp.route("/requests.json", methods=["GET"])
@require()
@blp.arguments(RequestsQuery(), location="query", unknown=RAISE, error_status_code=400)
@blp.response(200, RequestOut(many=True))
@_errors_doc(400, 401)
@blp.doc(security=BEARER)
def list_requests(query: dict[str, Any]) -> list[dict[str, Any]]:
    """Service requests the caller may see, newest first, at most 1000.

    Without `service_request_id`: those requested in [start_date, end_date), by default the last 90 days.
    """
    if query.get("service_request_id"):
        ids = _codes(query["service_request_id"], "service_request_id")
        if len(ids) > MAX_IDS:
            raise IntakeRefused("invalid", "too many ids", {"service_request_id": [f"at most {MAX_IDS} ids"]})
        return [_request_view(d) for d in queries.requests(ctx(), caller(), MAX_RESULTS, ids=ids)]
    end = query.get("end_date") or datetime.now(UTC)
    start = query.get("start_date") or max(end - DEFAULT_WINDOW, EARLIEST)
    codes = None
    if query.get("service_code"):
        codes = _codes(query["service_code"], "service_code")
        unknown = sorted(set(codes) - set(CATEGORIES))
        if unknown:
            raise IntakeRefused("invalid", "unknown service",
                                {"service_code": [f"unknown service {', '.join(unknown)}"]})
    closed = None
    if query.get("status"):
        statuses = set(_codes(query["status"], "status"))
        if not statuses <= {"open", "closed"}:
            raise IntakeRefused("invalid", "unknown status", {"status": ["status is open, closed or both"]})
        closed = None if len(statuses) == 2 else statuses == {"closed"}
    demands = queries.requests(ctx(), caller(), MAX_RESULTS, reported_from=start, reported_to=end,
                               categories=codes, closed=closed)
    return [_request_view(d) for d in demands]


def _codes(value: str, name: str) -> list[str]:
    codes = [c.strip() for c in value.split(",") if c.strip()]
    if not codes:
        raise IntakeRefused("invalid", "empty filter", {name: ["give at least one value"]})
    return codes


def _notice(demand: Demand) -> str | None:
    warnings = [problem for problems in (demand.warnings or {}).values() for problem in problems]
    return "; ".join(warnings) or None


def _request_view(demand: Demand) -> dict[str, Any]:
    department = DEPARTMENTS.get(demand.department or "")
    street = STREETS[demand.street]
    notes = demand.status.replace("_", " ") + (f" ({demand.outcome})" if demand.outcome else "")
    return {
        "service_request_id": demand.id, "status": open311_status(demand.status), "status_notes": notes,
        "service_name": CATEGORIES[demand.category].name_zh, "service_code": demand.category,
        "description": demand.description,
        "agency_responsible": department.name_zh if department else street.name_zh,
        "service_notice": _notice(demand), "requested_datetime": demand.reported_at,
        "updated_datetime": demand.updated_at, "expected_datetime": None, "address": street.name_zh,
        "address_id": demand.street, "zipcode": None, "lat": None, "long": None, "media_url": None,
    }
