"""SLA's HTTP API: a demand's clocks, the compliance summary, the breach list and the monthly report.

Who may read what (the token's role and street, see :mod:`sla_service.domain.access`):

* ``admin`` (the district office): everything, every street;
* ``supervisor``: their own street -- asking for another street is a 403, leaving ``street`` out means theirs;
* ``officer``: the clocks of any demand (officers are assigned across streets and departments, and a clock
  holds no personal data), nothing else.

A refusal of the read side (:class:`sla_service.domain.SlaRefused`) becomes its status through
``shared.webkit.errors``, installed on the app.
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast

from flask import Response
from marshmallow import RAISE

from shared.contracts.reference import STREETS
from shared.webkit.app import answers, context
from shared.webkit.auth import current_principal, require
from shared.webkit.inputs import ApiBlueprint
from sla_service import queries
from sla_service.bootstrap import Context
from sla_service.domain.compliance import COMPLIANCE_TARGET
from sla_service.http.schemas import (
    BreachPage,
    BreachQuery,
    DemandClocksOut,
    RateDemandPage,
    RateDemandsQuery,
    ReportQuery,
    SummaryOut,
    SummaryQuery,
)

blp = ApiBlueprint("sla", __name__, url_prefix="/api/v1/sla", description="SLA clocks, breaches and compliance")

OTHER_STREET = "A supervisor asked about another street."


def _ctx() -> Context:
    return cast(Context, context())


def _filters(query: dict[str, Any]) -> queries.Filters:
    return queries.Filters(street=query.get("street"), channel=query.get("channel"), category=query.get("category"),
                           first_day=query.get("first_day"), last_day=query.get("last_day"))


@blp.route("/demands/<demand_id>", methods=["GET"])
@require("officer", "supervisor", "admin")
@blp.response(200, DemandClocksOut)
@answers(blp, {403: "A role other than officer, supervisor or admin; or "
                  "a supervisor of another street.", 404: "SLA does not time this demand (yet)."})
def get_clocks(demand_id: str) -> dict[str, Any]:
    """The demand's clocks, with business time used and the instant each runs out.

    `business_seconds_used` is live: for a running clock it counts up to the moment of the request.
    """
    return queries.demand_clocks(_ctx(), current_principal(), demand_id)


@blp.route("/summary", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(SummaryQuery, location="query", unknown=RAISE)
@blp.response(200, SummaryOut)
@answers(blp, {403: f"Not a supervisor or admin. {OTHER_STREET}", 422: "Invalid filters."})
def summary(query: dict[str, Any]) -> dict[str, Any]:
    """First-response compliance, on-time resolution rate and resolution rate, each with its parts.

    Counts the demands *reported* on the days `from`..`to` (Asia/Shanghai, inclusive; open-ended when
    left out) in the street, channel and category asked. Target: 0.90 for each rate. Withdrawn, rejected
    and merged demands are in no rate's numerator or denominator: they are counted apart (`withdrawn`,
    `rejected`, `merged`); `extended` counts the demands whose resolution target an extension moved.
    """
    return queries.summary(_ctx(), current_principal(), _filters(query))


@blp.route("/breaches", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(BreachQuery, location="query", unknown=RAISE)
@blp.response(200, BreachPage)
@answers(blp, {403: f"Not a supervisor or admin. {OTHER_STREET}", 422: "Invalid filters or cursor."})
def breaches(query: dict[str, Any]) -> dict[str, Any]:
    """Breached clocks, newest breach first, a page at a time (pass `next_cursor` as `cursor`).

    `from`/`to` select the days (Asia/Shanghai, inclusive) on which the clocks reached their targets.
    """
    return queries.breaches(_ctx(), current_principal(), _filters(query), kind=query.get("kind"),
                            key_enterprise=query.get("key_enterprise"), limit=query["limit"],
                            cursor=query.get("cursor"))


@blp.route("/demands", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(RateDemandsQuery, location="query", unknown=RAISE)
@blp.response(200, RateDemandPage)
@answers(blp, {403: f"Not a supervisor or admin. {OTHER_STREET}", 422: "Invalid rate, outcome or filters."})
def rate_demands(query: dict[str, Any]) -> dict[str, Any]:
    """The demands behind one rate of the summary, missed first, a page at a time (`offset`, `limit`).

    Same filters as `/summary`: with them, `met` is the rate's numerator and `met` + `missed` its
    denominator. `first_response_compliance` and `on_time_resolution_rate` list the demands whose clock was
    met or breached; `resolution_rate` the closed demands (met: outcome `resolved`). Withdrawn, rejected and
    merged demands are never listed: their counts are given apart, as in `/summary`.
    """
    return queries.rate_demands(_ctx(), current_principal(), _filters(query), query["rate"], query.get("outcome"),
                                limit=query["limit"], offset=query["offset"])


REPORT_COLUMNS = (
    "month", "street", "street_name", "demands",
    "first_response_met", "first_response_counted", "first_response_compliance",
    "resolution_on_time", "resolution_counted", "on_time_resolution_rate",
    "closed_resolved", "closed", "resolution_rate", "target",
    "extended", "withdrawn", "rejected", "merged",
)


DEPARTMENT_COLUMNS = (
    "month", "scope", "department", "department_name", "spans",
    "median_business_seconds", "p90_business_seconds", "median_working_days", "p90_working_days",
    "target_working_days", "with_target", "on_time", "on_time_share",
)


@blp.route("/report.csv", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(ReportQuery, location="query", unknown=RAISE)
@answers(blp, {403: "Not a supervisor or admin.", 422: "`month` is missing or not YYYY-MM; `by` is unknown."})
def report(query: dict[str, Any]) -> Response:
    """The monthly compliance report per street, for the district office.

    One row per street (a supervisor gets theirs only; an admin every street and a district `total` row),
    counting the demands reported in the month (Asia/Shanghai). Rates are empty when nothing was counted.
    `extended` counts demands whose resolution target was extended; `withdrawn`, `rejected` and `merged`
    count the demands excluded from every rate (they are in `demands` only).

    With `by=department`: the department clocks (OLA) instead, one row per holder group with holding periods
    that ended in the month (`scope` is the supervisor's street, or `district` for an admin): how many, the
    median and 90th percentile holding time, and the on-time share where the policy sets a target.
    """
    return report_csv(query["month"], query["by"])


def report_csv(month: str, by: str = "street") -> Response:
    """The monthly report of ``month`` for the current principal as a CSV download (the API and the page)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    if by == "department":
        return _departments_csv(month, out, writer)
    rows = queries.monthly_report(_ctx(), current_principal(), month)
    writer.writerow(REPORT_COLUMNS)
    for street, r in rows.items():
        fr, res, rate = r["first_response_compliance"], r["on_time_resolution_rate"], r["resolution_rate"]
        name = STREETS[street].name_zh if street in STREETS else "杨浦区"
        writer.writerow([month, street, name, r["demands"],
                         fr["numerator"], fr["denominator"], _fmt(fr["rate"]),
                         res["numerator"], res["denominator"], _fmt(res["rate"]),
                         rate["numerator"], rate["denominator"], _fmt(rate["rate"]), f"{COMPLIANCE_TARGET:.2f}",
                         r["extended"], r["withdrawn"], r["rejected"], r["merged"]])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="sla-report-{month}.csv"'})


def _departments_csv(month: str, out: io.StringIO, writer: Any) -> Response:
    principal = current_principal()
    scope = principal.street if principal.role == "supervisor" else "district"
    day = _ctx().policy.seconds_per_working_day
    writer.writerow(DEPARTMENT_COLUMNS)
    for r in queries.monthly_departments(_ctx(), principal, month):
        target = r["target_business_seconds"]
        writer.writerow([month, scope, r["department"], r["department_name"], r["spans"],
                         f"{r['median_business_seconds']:.0f}", f"{r['p90_business_seconds']:.0f}",
                         f"{r['median_working_days']:.2f}", f"{r['p90_working_days']:.2f}",
                         "" if target is None else f"{target / day:g}", r["with_target"], r["on_time"],
                         _fmt(r["on_time_share"])])
    return Response(out.getvalue().encode("utf-8"), content_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="sla-departments-{month}.csv"'})


def _fmt(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"
