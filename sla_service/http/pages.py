"""The supervisor's compliance page (the street's figures for today, this month and all time, and this month's
holding time per department) and the monthly CSV for the signed-in user (per street, or ``by=department``: the
department clocks).

The figures are sla's own (:func:`sla_service.queries.compliance`, the same as ``/api/v1/sla/summary``);
a supervisor sees their street, an administrator picks one (or the whole district).
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from flask import Response, g, render_template, request
from flask_babel import gettext
from marshmallow import ValidationError

from shared.calendar import SHANGHAI
from shared.contracts.reference import STREETS
from shared.webkit.app import context
from shared.webkit.pages import error_page, page_blueprint, require_page
from sla_service import queries
from sla_service.bootstrap import Context
from sla_service.http.api import report_csv
from sla_service.http.schemas import ReportQuery

bp = page_blueprint("compliance", __name__, template_folder=str(Path(__file__).resolve().parents[1] / "templates"))


@bp.get("/compliance")
@require_page("supervisor", "admin")
def compliance() -> str:
    principal = g.principal
    street = principal.street if principal.role == "supervisor" else request.args.get("street") or None
    if street is not None and street not in STREETS:
        street = None
    today, figures, departments = queries.compliance(cast(Context, context()), street)
    return render_template("sla/compliance.html", street=street, figures=figures, today=today, departments=departments,
                           streets=sorted(STREETS) if principal.role == "admin" else [])


@bp.get("/compliance/report.csv")
@require_page("supervisor", "admin")
def report() -> Response:
    """The monthly CSV of ``/api/v1/sla/report.csv`` for the signed-in user: a browser's download link
    cannot send the API's bearer header, so the page session stands in for it (same rows, same rules)."""
    month = request.args.get("month") or cast(Context, context()).now().astimezone(SHANGHAI).strftime("%Y-%m")
    try:
        query = ReportQuery().load({"month": month, "by": request.args.get("by") or "street"})
    except ValidationError as refused:
        if "month" in refused.messages:
            return error_page(422, gettext("That month cannot be reported: use YYYY-MM."))
        return error_page(422, gettext("That report does not exist: by=street or by=department."))
    return report_csv(month, query["by"])
