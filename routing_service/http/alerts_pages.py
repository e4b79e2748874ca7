"""The bell, the alerts page, and the officers' notices (issue 18).

Alerts come from Alertmanager (``POST /api/v1/alerts/webhook``) and concern a street or the whole district:
supervisors see their street's, admins all; the bell in every supervisor's and admin's page header counts
those not read yet and refreshes through the pages' live channel (a polled region, every 2 s); opening the
alerts page reads them. Notices are an officer's own: a demand given to them, or a clock of one of theirs
reaching its warning. They are read from the assignments (``queries.notifications``) and shown in the
officer's queue page, refreshed the same way; the page's script turns a new one into a browser
notification if the officer allowed it (a button asks, never the page by itself).
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import lazy_gettext
from marshmallow import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from routing_service import commands, queries
from routing_service.domain.alerts import ALERT_READERS, FEED_ALERTS, FEED_NOTIFICATIONS
from routing_service.http.schemas import ALERT_FEEDS, ReadIn
from shared.alerting import PAGE_SERVICES
from shared.auth import Principal
from shared.webkit.app import context
from shared.webkit.pages import page_blueprint, require_page, service_url, wants_json

bp = page_blueprint("alerts", __name__, template_folder="../templates")

# The alert rules' names (deploy/prometheus/rules) in the reader's words; another name is shown as it is.
ALERT_TITLES = {
    "KeyEnterpriseBreach": lazy_gettext("A key enterprise's demand missed its promise"),
    "FirstResponseBudgetFastBurn": lazy_gettext("First responses are failing fast"),
    "FirstResponseComplianceLow": lazy_gettext("First-response compliance below 90%"),
    "ResolutionRateLow": lazy_gettext("Resolution rate below 90%"),
    "DemandsUnassigned": lazy_gettext("Demands waiting for an officer"),
    "DemandsUnrouted": lazy_gettext("Demands not routed"),
    "ServiceDown": lazy_gettext("A service is down"),
    "ConsumerHalted": lazy_gettext("Event handling stopped"),
    "ConsumerLagGrowing": lazy_gettext("Event handling falls behind"),
    "WorkerLoopStale": lazy_gettext("A worker stopped working"),
    "OutboxRelayStalled": lazy_gettext("Events are not being sent"),
    "OutboxBacklogGrowing": lazy_gettext("Events to send pile up"),
    "DeadLetterArrived": lazy_gettext("An event could not be handled"),
    "CalendarEstimated": lazy_gettext("Next year's working calendar is an estimate"),
    "SlaClocksRepaired": lazy_gettext("SLA clocks were repaired"),
    "SlaClocksUnrepairable": lazy_gettext("SLA clocks cannot be repaired"),
}


def alert_bell(me: Principal | None) -> int | None:
    """The bell's count for the signed-in user of a page, or None where there is no bell (other roles), or
    when it cannot be read now (the page still renders)."""
    if me is None or me.role not in ALERT_READERS:
        return None
    try:
        return queries.unread_alerts(context(), me)
    except SQLAlchemyError:
        return None


def officer_notices(me: Principal) -> dict[str, Any]:
    """The signed-in officer's notices, for the queue page (routing/_notices.html)."""
    return queries.notifications(context(), me.subject)


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    """Every routing page's header may ring the bell (shared/webkit/templates/pages/base.html); the officer's
    queue page shows the notices."""
    return {"alert_bell": alert_bell, "officer_notices": officer_notices}


def _link(page: str | None) -> str | None:
    if not page:
        return None
    service = next((s for prefix, s in PAGE_SERVICES.items() if page.startswith(prefix)), "intake")
    return service_url(service, page)


@bp.get("/alerts")
@require_page(*ALERT_READERS)
def alerts() -> str:
    """Active alerts (and those resolved in the last day; ``show=all``: older ones too) of the user's street,
    or all for an admin; opening the page reads them, so the bell empties."""
    show = request.args.get("show") if request.args.get("show") in ALERT_FEEDS else "active"
    found = queries.alerts(context(), g.principal, show)
    if found["items"]:
        commands.mark_read(context(), g.principal.subject, FEED_ALERTS,
                           max(a["received_at"] for a in found["items"]))
    return render_template("routing/alerts.html", alerts=found["items"], show=show, titles=ALERT_TITLES,
                           link=_link)


@bp.get("/alerts/bell")
@require_page(*ALERT_READERS)
def bell() -> str:
    """The bell's count alone: the header's polled region."""
    return render_template("pages/_bell.html", unread=queries.unread_alerts(context(), g.principal))


@bp.get("/officer/notifications")
@require_page("officer", "supervisor")
def notifications() -> str:
    """The officer's notices: the queue page's polled region (and the browser notifications' source)."""
    return render_template("routing/_notices.html", notices=officer_notices(g.principal))


@bp.post("/officer/notifications/read")
@require_page("officer", "supervisor")
def read_notifications() -> Any:
    """Mark the notices read up to the newest the page showed (``through``), so a later one stays unread."""
    try:
        through = ReadIn().load({k: v for k, v in request.form.items() if k == "through" and v}).get("through")
    except ValidationError:
        through = None
    commands.mark_read(context(), g.principal.subject, FEED_NOTIFICATIONS, through)
    if wants_json():
        return {"unread": queries.notifications(context(), g.principal.subject)["unread"]}
    return redirect(url_for("officer.queue"))
