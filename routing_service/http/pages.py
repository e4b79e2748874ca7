"""The officer's and the supervisor's pages: the queue most urgent first, a demand and its actions, the street.

Everything goes through routing's own API layer (the queue query and its JSON, the assignment view, the read
rule and ``act``, which performs one state-machine transition) so the pages and ``/api/v1`` cannot disagree. What
other services own comes over HTTP with the user's token: the demand's description and timeline from
intake, the compliance figures and breaches from sla.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from marshmallow import Schema, ValidationError
from sqlalchemy import and_, select, true
from werkzeug.exceptions import HTTPException

from routing_service import api as routing_api
from routing_service.actions import may_act
from routing_service.dispatch import IS_UNASSIGNED
from routing_service.model import Assignment, Officer
from routing_service.states import allowed_actions
from shared.calendar import SHANGHAI
from shared.config import Settings
from shared.contracts.reference import DEPARTMENTS
from shared.db import unit_of_work
from shared.webkit.app import flatten_errors, sessions
from shared.webkit.pages import error_page, page_blueprint, require_page
from shared.webkit.pages.errors import localize_all
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("officer", __name__, template_folder="templates")

QUEUE_PAGE = {"limit": 100, "offset": 0}
# The body each action takes (the API's own schemas) and the form fields that fill it.
ACTION_SCHEMAS: dict[str, type[Schema]] = {
    "acknowledge": routing_api.NoBody, "request-materials": routing_api.MaterialsRequestIn,
    "materials-received": routing_api.NoBody, "transfer": routing_api.TransferIn,
    "resolve": routing_api.ResolveIn, "escalate": routing_api.EscalateIn, "feedback": routing_api.FeedbackIn,
    "close": routing_api.NoBody,
}
# Grafana dashboards by uid (deploy/grafana/dashboards); the SLA overview filters by its `street` variable.
DASHBOARDS = (("yangpu-sla-overview", "?var-street={street}", lazy_gettext("SLA overview")),
              ("yangpu-pipeline", "", lazy_gettext("Event pipeline")))


def _officer_names(session: Any) -> dict[str, str]:
    return {row.id: row.name for row in session.execute(select(Officer.id, Officer.name))}


@bp.get("/officer")
@require_page("officer", "supervisor")
def queue() -> str:
    """The signed-in officer's open demands, most urgent first; the list refreshes itself."""
    return render_template("routing/queue.html", **_queue())


@bp.get("/officer/list")
@require_page("officer", "supervisor")
def queue_list() -> str:
    return render_template("routing/_queue_list.html", **_queue())


def _queue() -> dict[str, Any]:
    mine = and_(Assignment.officer_id == g.principal.subject, Assignment.is_open == true())
    with unit_of_work(sessions()) as session:
        return {"page": routing_api.queue_page(session, mine, QUEUE_PAGE)}


@bp.get("/officer/demands/<demand_id>")
@require_page("officer", "supervisor")
def demand(demand_id: str, errors: dict[str, list[str]] | None = None, message: str | None = None,
           status: int = 200) -> Any:
    """One demand: routing's view, intake's details and timeline, and the actions valid right now."""
    principal = g.principal
    with unit_of_work(sessions()) as session:
        a = session.get(Assignment, demand_id)
        if a is None or not routing_api.may_read(session, principal, a):
            return error_page(404, gettext("There is no such demand, or it is not yours to see."))
        view = routing_api.assignment_view(session, a)
        title = a.title
        actions = [x for x in allowed_actions(a.state) if not (x == "escalate" and a.escalated)] \
            if may_act(principal, a) else []
        names = _officer_names(session)
        colleagues = [o for o in session.scalars(select(Officer).order_by(Officer.id))
                      if (a.street in o.streets or "*" in o.streets or o.kind == "department_specialist")
                      and o.id != a.officer_id and o.on_duty] if "transfer" in actions else []
    try:
        details = call_service("intake", f"/api/v1/demands/{demand_id}")
    except ServiceUnavailable:
        details = None
    return render_template(
        "routing/demand.html", a=view, title=title, details=details, actions=actions, names=names,
        colleagues=colleagues, departments=sorted(DEPARTMENTS), errors=errors or {}, message=message,
        done=request.args.get("done"), form=request.form,
    ), status


@bp.post("/officer/demands/<demand_id>/<action>")
@require_page("officer", "supervisor")
def act(demand_id: str, action: str) -> Any:
    """Perform one action from its form; back to the demand, which shows the new state."""
    schema = ACTION_SCHEMAS.get(action)
    if schema is None:
        return error_page(404, gettext("There is no such page."))
    body = {name: request.form[name].strip() for name in schema().fields if request.form.get(name, "").strip()}
    try:
        body = schema().load(body)
        routing_api.act(demand_id, action, body)
    except ValidationError as exc:
        return demand(demand_id, localize_all(flatten_errors(exc.messages)), gettext("Some fields need fixing."),
                      422)
    except HTTPException as exc:
        data = getattr(exc, "data", None) or {}
        message = {
            403: gettext("Only the officer holding this demand or the street's supervisor may do that."),
            404: gettext("There is no such demand, or it is not yours to see."),
            409: gettext("That is not possible in the demand's current state (it may have changed meanwhile); "
                         "the page now shows what is."),
        }.get(exc.code or 500, gettext("Some fields need fixing."))
        return demand(demand_id, localize_all(data.get("errors") or {}), message, exc.code or 500)
    return redirect(url_for("officer.demand", demand_id=demand_id, done=action, _anchor="result"))


@bp.get("/supervisor")
@require_page("supervisor")
def supervisor() -> str:
    """The street at a glance: unassigned and escalated demands, breaches, compliance, dashboards."""
    return render_template("routing/supervisor.html", **_street())


@bp.get("/supervisor/panel")
@require_page("supervisor")
def supervisor_panel() -> str:
    return render_template("routing/_supervisor_panel.html", **_street())


def _street() -> dict[str, Any]:
    street = g.principal.street
    with unit_of_work(sessions()) as session:
        unassigned = routing_api.queue_page(
            session, and_(Assignment.street == street, IS_UNASSIGNED), QUEUE_PAGE)
        escalated = routing_api.queue_page(
            session, and_(Assignment.street == street, Assignment.escalated, Assignment.is_open), QUEUE_PAGE)
        names = _officer_names(session)
    month_start = datetime.now(SHANGHAI).date().replace(day=1)
    figures: dict[str, Any] = {}
    try:
        figures["all"] = call_service("sla", "/api/v1/sla/summary")
        figures["month"] = call_service("sla", "/api/v1/sla/summary",
                                        {"from": month_start.isoformat()})
        breaches = call_service("sla", "/api/v1/sla/breaches", {"limit": 20})["items"]
    except (ServiceUnavailable, KeyError):
        figures, breaches = {}, None
    settings: Settings = current_app.extensions["yangpu"]["settings"]
    grafana = settings.grafana_url.rstrip("/")
    dashboards = [(f"{grafana}/d/{uid}{query.format(street=street)}", name) for uid, query, name in DASHBOARDS]
    return {"street": street, "unassigned": unassigned, "escalated": escalated, "names": names,
            "figures": figures, "breaches": breaches, "dashboards": dashboards}
