"""SLA's HTTP API: a demand's clocks, the compliance summary, the breach list and the monthly report.

Who may read what (the token's role and street):

* ``admin`` (the district office): everything, every street;
* ``supervisor``: their own street -- asking for another street is a 403, leaving ``street`` out means theirs;
* ``officer``: the clocks of any demand (officers are assigned across streets and departments, and a clock
  holds no personal data), nothing else.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import literal, select, tuple_

from shared.auth import Principal
from shared.calendar import SHANGHAI
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import CHANNELS, CLOCK_KINDS
from shared.db import UTCDateTime, unit_of_work
from shared.webkit.app import ErrorSchema, api_error, sessions
from shared.webkit.auth import current_principal, require
from sla_service.clocks import to_clock
from sla_service.context import COMPLIANCE_TARGET, SlaContext
from sla_service.model import ClockRow, TimedDemand
from sla_service.policy import STATUSES
from sla_service.stats import Filters, by_street, summarize

blp = Blueprint("sla", __name__, url_prefix="/api/v1/sla", description="SLA clocks, breaches and compliance")

BEARER = [{"bearerAuth": []}]
UNAUTHORIZED = "No valid bearer token."
OTHER_STREET = "A supervisor asked about another street."


def _context() -> SlaContext:
    return current_app.extensions["sla"]


def _scoped_street(principal: Principal, asked: str | None) -> str | None:
    """The street a caller may see: a supervisor only theirs (403 for another), an admin any or all."""
    if principal.role == "supervisor":
        if asked is not None and asked != principal.street:
            api_error(403, f"a supervisor of {principal.street} may not read street {asked}")
        return principal.street
    return asked


# ------------------------------------------------------------------ schemas


class ClockOut(Schema):
    kind = fields.String(validate=validate.OneOf(CLOCK_KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES))
    started_at = fields.AwareDateTime()
    target_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the used time reaches (or reached) the target; null while paused or once met"})
    stopped_at = fields.AwareDateTime(allow_none=True)
    business_seconds_used = fields.Float(metadata={"description": "Business time used so far (live while running)"})
    business_seconds_target = fields.Integer()


class PolicyOut(Schema):
    channel = fields.String()
    complexity = fields.String()
    warning_fraction = fields.Float()
    seconds_per_working_day = fields.Integer()


class DemandClocksOut(Schema):
    demand_id = fields.String()
    policy = fields.Nested(PolicyOut, metadata={"description": "The policy the demand is timed by"})
    clocks = fields.List(fields.Nested(ClockOut))


class _Query(Schema):
    street = fields.String(validate=validate.OneOf(list(STREETS)))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    category = fields.String(validate=validate.OneOf(list(CATEGORIES)))
    first_day = fields.Date(data_key="from", metadata={"description": "First day, inclusive (Asia/Shanghai)"})
    last_day = fields.Date(data_key="to", metadata={"description": "Last day, inclusive (Asia/Shanghai)"})

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


class SummaryOut(Schema):
    filters = fields.Dict(metadata={"description": "The filters applied (a supervisor's street filled in)"})
    demands = fields.Integer(metadata={"description": "Demands reported in the period"})
    first_response_compliance = fields.Nested(RateOut, metadata={
        "description": "first-response clocks met / met or breached"})
    on_time_resolution_rate = fields.Nested(RateOut, metadata={
        "description": "resolution clocks met / met or breached"})
    resolution_rate = fields.Nested(RateOut, metadata={
        "description": "closed demands with outcome `resolved` / all closed demands (closed: resolved with any "
                       "outcome, or closed without a resolution, and not reopened since)"})


class BreachQuery(_Query):
    """Breaches whose clock reached its target on the days ``from``..``to``."""

    kind = fields.String(validate=validate.OneOf(CLOCK_KINDS))
    key_enterprise = fields.Boolean()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.String(validate=validate.Length(1, 300),
                           metadata={"description": "next_cursor of the previous page (opaque)"})


class BreachOut(Schema):
    demand_id = fields.String()
    kind = fields.String()
    street = fields.String()
    channel = fields.String()
    category = fields.String()
    key_enterprise = fields.Boolean()
    breached_at = fields.AwareDateTime(metadata={"description": "When the used time reached the target"})
    stopped_at = fields.AwareDateTime(allow_none=True, metadata={"description": "null while still open"})
    business_seconds_target = fields.Integer()


class BreachPage(Schema):
    items = fields.List(fields.Nested(BreachOut))
    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class ReportQuery(Schema):
    month = fields.String(required=True, validate=validate.Regexp(r"^\d{4}-(0[1-9]|1[0-2])$",
                                                                  error="must be YYYY-MM"))


# ------------------------------------------------------------------ endpoints


@blp.route("/demands/<demand_id>", methods=["GET"])
@require("officer", "supervisor", "admin")
@blp.response(200, DemandClocksOut)
@blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)
@blp.alt_response(403, schema=ErrorSchema, description="A role other than officer, supervisor or admin; or "
                  "a supervisor of another street.")
@blp.alt_response(404, schema=ErrorSchema, description="SLA does not time this demand (yet).")
@blp.doc(security=BEARER)
def get_clocks(demand_id: str) -> dict[str, Any]:
    """The demand's clocks, with business time used and the instant each runs out.

    `business_seconds_used` is live: for a running clock it counts up to the moment of the request.
    """
    ctx = _context()
    with unit_of_work(sessions()) as session:
        demand = session.get(TimedDemand, demand_id)
        if demand is None:
            api_error(404, f"SLA does not time demand {demand_id}")
        _scoped_street(current_principal(), demand.street)
        rows = session.scalars(select(ClockRow).where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind)).all()
    now = ctx.now()
    return {
        "demand_id": demand_id,
        "policy": {"channel": demand.channel, "complexity": demand.complexity,
                   "warning_fraction": ctx.policy.warning_fraction,
                   "seconds_per_working_day": ctx.policy.seconds_per_working_day},
        "clocks": [{"kind": r.kind, "status": r.status, "started_at": r.started_at, "target_at": r.target_at,
                    "stopped_at": r.stopped_at, "business_seconds_used": to_clock(r).used_at(now, ctx.calendar),
                    "business_seconds_target": r.business_seconds_target} for r in rows],
    }


@blp.route("/summary", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(SummaryQuery, location="query", unknown=RAISE)
@blp.response(200, SummaryOut)
@blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)
@blp.alt_response(403, schema=ErrorSchema, description=f"Not a supervisor or admin. {OTHER_STREET}")
@blp.alt_response(422, schema=ErrorSchema, description="Invalid filters.")
@blp.doc(security=BEARER)
def summary(query: dict[str, Any]) -> dict[str, Any]:
    """First-response compliance, on-time resolution rate and resolution rate, each with its parts.

    Counts the demands *reported* on the days `from`..`to` (Asia/Shanghai, inclusive; open-ended when
    left out) in the street, channel and category asked. Target: 0.90 for each rate.
    """
    filters = Filters(street=_scoped_street(current_principal(), query.get("street")),
                      channel=query.get("channel"), category=query.get("category"),
                      first_day=query.get("first_day"), last_day=query.get("last_day"))
    with unit_of_work(sessions()) as session:
        result = summarize(session, filters)
    return {"filters": {"street": filters.street, "channel": filters.channel, "category": filters.category,
                        "from": _iso(filters.first_day), "to": _iso(filters.last_day)}, **result}


@blp.route("/breaches", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(BreachQuery, location="query", unknown=RAISE)
@blp.response(200, BreachPage)
@blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)
@blp.alt_response(403, schema=ErrorSchema, description=f"Not a supervisor or admin. {OTHER_STREET}")
@blp.alt_response(422, schema=ErrorSchema, description="Invalid filters or cursor.")
@blp.doc(security=BEARER)
def breaches(query: dict[str, Any]) -> dict[str, Any]:
    """Breached clocks, newest breach first, a page at a time (pass `next_cursor` as `cursor`).

    `from`/`to` select the days (Asia/Shanghai, inclusive) on which the clocks reached their targets.
    """
    street = _scoped_street(current_principal(), query.get("street"))
    c, d = ClockRow, TimedDemand
    stmt = select(c, d).join(d, d.demand_id == c.demand_id).where(c.breached_at.is_not(None))
    if street is not None:
        stmt = stmt.where(c.street == street)
    for column, key in ((d.channel, "channel"), (d.category, "category"), (c.kind, "kind"),
                        (d.key_enterprise, "key_enterprise")):
        if query.get(key) is not None:
            stmt = stmt.where(column == query[key])
    if query.get("first_day"):
        stmt = stmt.where(c.breached_at >= _day_start(query["first_day"]))
    if query.get("last_day"):
        stmt = stmt.where(c.breached_at < _day_start(query["last_day"] + timedelta(days=1)))
    if query.get("cursor"):
        at, demand_id, kind = _decode_cursor(query["cursor"])
        stmt = stmt.where(tuple_(c.breached_at, c.demand_id, c.kind)
                          < tuple_(literal(at, UTCDateTime()), literal(demand_id), literal(kind)))
    limit = query["limit"]
    stmt = stmt.order_by(c.breached_at.desc(), c.demand_id.desc(), c.kind.desc()).limit(limit + 1)
    with unit_of_work(sessions()) as session:
        rows = session.execute(stmt).all()
    page, more = rows[:limit], len(rows) > limit
    return {
        "items": [{"demand_id": r.demand_id, "kind": r.kind, "street": dem.street, "channel": dem.channel,
                   "category": dem.category, "key_enterprise": dem.key_enterprise, "breached_at": r.breached_at,
                   "stopped_at": r.stopped_at, "business_seconds_target": r.business_seconds_target}
                  for r, dem in page],
        "next_cursor": _encode_cursor(page[-1][0]) if more else None,
    }


REPORT_COLUMNS = (
    "month", "street", "street_name", "demands",
    "first_response_met", "first_response_counted", "first_response_compliance",
    "resolution_on_time", "resolution_counted", "on_time_resolution_rate",
    "closed_resolved", "closed", "resolution_rate", "target",
)


@blp.route("/report.csv", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(ReportQuery, location="query", unknown=RAISE)
@blp.alt_response(401, schema=ErrorSchema, description=UNAUTHORIZED)
@blp.alt_response(403, schema=ErrorSchema, description="Not a supervisor or admin.")
@blp.alt_response(422, schema=ErrorSchema, description="`month` is missing or not YYYY-MM.")
@blp.doc(security=BEARER, responses={"200": {
    "description": "CSV (UTF-8 with BOM, so Excel shows the Chinese street names), one header row.",
    "content": {"text/csv": {"schema": {"type": "string"}}}}})
def report(query: dict[str, Any]) -> Response:
    """The monthly compliance report per street, for the district office.

    One row per street (a supervisor gets theirs only; an admin every street and a district `total` row),
    counting the demands reported in the month (Asia/Shanghai). Rates are empty when nothing was counted.
    """
    principal = current_principal()
    year, month = (int(part) for part in query["month"].split("-"))
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    streets = [principal.street] if principal.role == "supervisor" else list(STREETS)
    with unit_of_work(sessions()) as session:
        rows = by_street(session, Filters(first_day=first, last_day=last), streets)
        if principal.role == "admin":
            rows["total"] = summarize(session, Filters(first_day=first, last_day=last))
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REPORT_COLUMNS)
    for street, r in rows.items():
        fr, res, rate = r["first_response_compliance"], r["on_time_resolution_rate"], r["resolution_rate"]
        name = STREETS[street].name_zh if street in STREETS else "杨浦区"
        writer.writerow([query["month"], street, name, r["demands"],
                         fr["numerator"], fr["denominator"], _fmt(fr["rate"]),
                         res["numerator"], res["denominator"], _fmt(res["rate"]),
                         rate["numerator"], rate["denominator"], _fmt(rate["rate"]), f"{COMPLIANCE_TARGET:.2f}"])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="sla-report-{query["month"]}.csv"'})


# ------------------------------------------------------------------ helpers


def _fmt(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def _encode_cursor(row: ClockRow) -> str:
    raw = json.dumps([row.breached_at.isoformat(), row.demand_id, row.kind]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str, str]:
    """The position a cursor stands for (422 if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, demand_id, kind = json.loads(raw)
        position = datetime.fromisoformat(at)
        if position.tzinfo is None or not isinstance(demand_id, str) or kind not in CLOCK_KINDS:
            raise ValueError("not a cursor")
    except (ValueError, TypeError):
        api_error(422, "some fields are invalid; see errors", {"cursor": ["not a cursor returned by this API"]})
    return position, demand_id, kind
