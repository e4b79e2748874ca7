"""The supervisor's pages: the street at a glance, each officer's open work, and the demands behind a rate.

Routing's own queries give the street's queues, the officers' work and the demands' titles and holders; what
sla owns (the compliance figures, the breaches, which demands a rate counts) comes over HTTP with the
supervisor's token, so every figure shown is the one ``/api/v1/sla`` answers. Intake, asked the same way,
gives what routing does not keep: the reason an escalation was given (its timeline) and, for demands routed
before routing kept it, the enterprise's name.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from marshmallow import ValidationError

from routing_service import commands, queries
from routing_service.domain import RoutingRefused
from routing_service.http.schemas import ReassignIn
from shared.calendar import SHANGHAI
from shared.webkit.app import context
from shared.webkit.errors import status_of
from shared.webkit.pages import error_page, page_blueprint, require_page
from shared.webkit.pages.labels import label
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("supervisor", __name__, template_folder="../templates")

QUEUE_PAGE = {"limit": 100, "offset": 0}
CARDS = 10  # breach and escalation cards on the page (each may ask intake once); the rest are a link away
DRILL_PAGE = 25
RATES = ("first_response_compliance", "on_time_resolution_rate", "resolution_rate")
PERIODS = ("month", "all")
# Why a bulk reassignment was refused, in the reader's words (the refusal's own message is for the API's callers).
NOT_REASSIGNED = {
    "invalid": lazy_gettext("Nothing was reassigned: the officer chosen cannot take these demands."),
    "forbidden": lazy_gettext("Nothing was reassigned: only the street's supervisor may do that."),
    "not_found": lazy_gettext("Nothing was reassigned: there is no such officer."),
    "conflict": lazy_gettext("Nothing was reassigned: the officer's demands changed meanwhile; try again."),
}
DECIDED = ("approve-extension", "refuse-extension", "approve-resolution", "send-back")  # the page's own forms
# Grafana dashboards by uid (deploy/grafana/dashboards); the SLA overview filters by its `street` variable.
DASHBOARDS = (("yangpu-sla-overview", "?var-street={street}", lazy_gettext("SLA overview")),
              ("yangpu-pipeline", "", lazy_gettext("Event pipeline")))


@bp.get("/supervisor")
@require_page("supervisor")
def supervisor() -> str:
    """The street at a glance: what waits for the supervisor's word (extension requests, resolutions to
    review), what needs them, open work by officer, compliance, breaches."""
    done = request.args.get("done", "")
    return render_template("routing/supervisor.html", **_street(),
                           decisions=queries.awaiting_supervisor(context(), g.principal.street, QUEUE_PAGE),
                           done=gettext("Done: %(action)s.", action=label("action", done)) if done in DECIDED
                           else None)


@bp.get("/supervisor/panel")
@require_page("supervisor")
def supervisor_panel() -> str:
    return render_template("routing/_supervisor_panel.html", **_street())


@bp.get("/supervisor/officers/<officer_id>")
@require_page("supervisor")
def officer_work(officer_id: str) -> Any:
    """One officer's open demands in the street, narrowed to one column of the work table."""
    show = request.args.get("show", "open")
    if show not in queries.STREET_WORK or len(officer_id) > 64:
        return error_page(404, gettext("There is no such page."))
    moved, stayed = request.args.get("moved", ""), request.args.get("stayed", "")
    return _officer_page(officer_id, show, moved=int(moved) if moved.isdigit() else None,
                         stayed=int(stayed) if stayed.isdigit() else 0)


def _officer_page(officer_id: str, show: str, message: str | None = None, status: int = 200,
                  moved: int | None = None, stayed: int = 0) -> Any:
    street = g.principal.street
    ctx = context()
    found = queries.officer_street_work(ctx, street, officer_id, show, QUEUE_PAGE)
    targets = [o for o in queries.officers(ctx, street=street) if o["on_duty"] and o["id"] != officer_id]
    return render_template(
        "routing/supervisor_officer.html", street=street, show=show, officer_id=officer_id, **found,
        reassign_targets=targets, message=message, moved=moved, stayed=stayed,
        reassign_url=url_for("supervisor.reassign", officer_id=officer_id)), status


@bp.post("/supervisor/officers/<officer_id>/reassign")
@require_page("supervisor")
def reassign(officer_id: str) -> Any:
    """全部改派: every open demand the officer holds goes to another holder (the rules' choice, or the one the
    supervisor names), as ``POST /api/v1/officers/<id>/reassign`` does; back to the officer's list."""
    if len(officer_id) > 64:
        return error_page(404, gettext("There is no such page."))
    to_officer = request.form.get("to_officer", "").strip()
    try:
        body = ReassignIn().load({"to_officer": to_officer} if to_officer else {})
        out = commands.reassign(context(), officer_id, body, g.principal)
    except ValidationError:
        return _officer_page(officer_id, "open", str(NOT_REASSIGNED["invalid"]), 422)
    except RoutingRefused as refusal:
        return _officer_page(officer_id, "open", str(NOT_REASSIGNED.get(refusal.kind, NOT_REASSIGNED["invalid"])),
                             status_of(refusal))
    return redirect(url_for("supervisor.officer_work", officer_id=officer_id, show="open", moved=out["moved"],
                            stayed=len(out["stayed"]), _anchor="result"), 303)


@bp.get("/supervisor/rates/<rate>")
@require_page("supervisor")
def rate_demands(rate: str) -> Any:
    """The demands one rate counts (sla's drill-down), missed first, with routing's titles and holders."""
    period, outcome = request.args.get("period", "month"), request.args.get("outcome") or None
    offset = request.args.get("offset", "0")
    if rate not in RATES or period not in PERIODS or outcome not in (None, "missed", "met") or not offset.isdigit():
        return error_page(404, gettext("There is no such page."))
    params = {"rate": rate, "outcome": outcome, "offset": min(int(offset), 100_000), "limit": DRILL_PAGE,
              "from": _month_start().isoformat() if period == "month" else None}
    try:
        found = call_service("sla", "/api/v1/sla/demands", params)
        summary = call_service("sla", "/api/v1/sla/summary", {"from": params["from"]})
    except ServiceUnavailable:
        found = summary = None
    facts = queries.demand_facts(context(), g.principal.street,
                                 [i["demand_id"] for i in found["items"]] if found else [])
    return render_template("routing/supervisor_rate.html", rate=rate, period=period, outcome=outcome,
                           found=found, summary=summary, facts=facts, month=_month_start().strftime("%Y-%m"),
                           previous=max(params["offset"] - DRILL_PAGE, 0) if params["offset"] else None)


def _month_start() -> date:
    return datetime.now(SHANGHAI).date().replace(day=1)


def _street() -> dict[str, Any]:
    street = g.principal.street
    ctx = context()
    overview = queries.street_overview(ctx, street, QUEUE_PAGE)
    figures: dict[str, Any] = {}
    try:
        figures["all"] = call_service("sla", "/api/v1/sla/summary")
        figures["month"] = call_service("sla", "/api/v1/sla/summary", {"from": _month_start().isoformat()})
        breaches = call_service("sla", "/api/v1/sla/breaches", {"limit": CARDS})["items"]
    except (ServiceUnavailable, KeyError):
        figures, breaches = {}, None
    escalated = overview["escalated"]["items"][:CARDS]
    facts = queries.demand_facts(ctx, street, [d["demand_id"] for d in escalated + (breaches or [])])
    intake = _from_intake([d["demand_id"] for d in escalated],
                          [b["demand_id"] for b in breaches or [] if not facts.get(b["demand_id"], {})
                           .get("enterprise_name")])
    dashboards = dashboard_links(ctx.settings.grafana_url, street)
    mine = queries.my_queue(ctx, g.principal.subject, {**QUEUE_PAGE, "tab": "open"})
    return {"street": street, **overview, "figures": figures, "breaches": breaches, "dashboards": dashboards,
            "work": queries.street_work(ctx, street), "facts": facts, "intake": intake, "mine": mine,
            "month": _month_start().strftime("%Y-%m"), "cards": CARDS}


def dashboard_links(grafana_url: str, street: str) -> list[tuple[str, Any]]:
    """The dashboards' addresses with their names; none when no Grafana is configured (no dead links)."""
    grafana = grafana_url.strip().rstrip("/")
    return [(f"{grafana}/d/{uid}{query.format(street=street)}", name)
            for uid, query, name in DASHBOARDS] if grafana else []


def _from_intake(escalated: list[str], nameless: list[str]) -> dict[str, dict[str, Any]]:
    """What intake knows that routing does not keep, per demand: the enterprise's name and the latest
    escalation's reason (``automatic`` when routing escalated by itself on a breach). A demand intake does
    not answer for is left out; its card says less."""
    found: dict[str, dict[str, Any]] = {}
    for demand_id in dict.fromkeys(escalated + nameless):
        try:
            demand = call_service("intake", f"/api/v1/demands/{demand_id}")
        except ServiceUnavailable:
            continue
        escalations = [t.get("details") or {} for t in demand.get("timeline", []) if t.get("kind") == "escalated"]
        latest = escalations[-1] if escalations else {}
        found[demand_id] = {"enterprise_name": (demand.get("enterprise") or {}).get("name"),
                            "automatic": bool(latest.get("automatic")), "reason": latest.get("reason"),
                            "reason_code": latest.get("reason_code")}  # intake stores routing's own words as codes
    return found
