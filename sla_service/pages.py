"""The supervisor's compliance page: the street's figures for today, this month and all time.

The figures are sla's own (:func:`sla_service.stats.summarize`, the same as ``/api/v1/sla/summary``);
a supervisor sees their street, an administrator picks one (or the whole district).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import g, render_template, request

from shared.calendar import SHANGHAI
from shared.contracts.reference import STREETS
from shared.db import unit_of_work
from shared.webkit.app import sessions
from shared.webkit.pages import page_blueprint, require_page
from sla_service.stats import Filters, summarize

bp = page_blueprint("compliance", __name__, template_folder="templates")


@bp.get("/compliance")
@require_page("supervisor", "admin")
def compliance() -> str:
    principal = g.principal
    street = principal.street if principal.role == "supervisor" else request.args.get("street") or None
    if street is not None and street not in STREETS:
        street = None
    today = datetime.now(SHANGHAI).date()
    periods = (("today", today, today), ("month", today.replace(day=1), today), ("all", None, None))
    figures: dict[str, Any] = {}
    with unit_of_work(sessions()) as session:
        for name, first, last in periods:
            figures[name] = summarize(session, Filters(street=street, first_day=first, last_day=last))
    return render_template("sla/compliance.html", street=street, figures=figures, today=today,
                           streets=sorted(STREETS) if principal.role == "admin" else [])
