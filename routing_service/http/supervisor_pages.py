"""The supervisor's page: the street at a glance (queues nobody took, escalations, breaches, compliance).

Routing's own queries give the street's queues and officers; what sla owns (the compliance figures and the
breaches) comes over HTTP with the supervisor's token, so the page shows what ``/api/v1/sla`` says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, render_template
from flask_babel import lazy_gettext

from routing_service import queries
from shared.calendar import SHANGHAI
from shared.webkit.app import context
from shared.webkit.pages import page_blueprint, require_page
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("supervisor", __name__, template_folder="../templates")

QUEUE_PAGE = {"limit": 100, "offset": 0}
# Grafana dashboards by uid (deploy/grafana/dashboards); the SLA overview filters by its `street` variable.
DASHBOARDS = (("yangpu-sla-overview", "?var-street={street}", lazy_gettext("SLA overview")),
              ("yangpu-pipeline", "", lazy_gettext("Event pipeline")))


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
    ctx = context()
    overview = queries.street_overview(ctx, street, QUEUE_PAGE)
    month_start = datetime.now(SHANGHAI).date().replace(day=1)
    figures: dict[str, Any] = {}
    try:
        figures["all"] = call_service("sla", "/api/v1/sla/summary")
        figures["month"] = call_service("sla", "/api/v1/sla/summary",
                                        {"from": month_start.isoformat()})
        breaches = call_service("sla", "/api/v1/sla/breaches", {"limit": 20})["items"]
    except (ServiceUnavailable, KeyError):
        figures, breaches = {}, None
    grafana = ctx.settings.grafana_url.rstrip("/")
    dashboards = [(f"{grafana}/d/{uid}{query.format(street=street)}", name) for uid, query, name in DASHBOARDS]
    return {"street": street, **overview, "figures": figures, "breaches": breaches, "dashboards": dashboards}
