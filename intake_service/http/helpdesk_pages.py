"""The online help desk's desk (``helpdesk_agent``): online demands with their 1-minute first answer.

The desk lists the online demands nobody has answered yet, oldest first, each with the first-response
countdown in seconds. The promise is BUSINESS time (``first_response.online_helpdesk`` of the SLA policy,
on the business calendar, as sla counts it), so outside working hours the clock is stopped and the desk says
until when. The list is a ``data-poll-url`` region of ``shared/webkit/static/pages.js`` (the suite's one live
channel: short polling, see docs/pages.md for the measurement); its HTML only changes when the list or a
clock's state does, so a poll does not re-render rows (nor steal the focus) every time: each running clock
carries the instant its business seconds run out if time keeps running (``data-zero-ms``) and the end of the
working window (``data-pause-ms``), in server time, and ``helpdesk.js`` ticks them.

Answering is routing's action (``POST /api/v1/demands/<id>/acknowledge``, which a help-desk agent may call
for an online demand), asked as the signed-in agent; intake learns of it from routing's event, and the row
leaves the list at the next refresh. Logging a new online demand goes through the grid form's input layer
(:func:`intake_service.http.pages.body_from_form`, :class:`DemandIn`) and :func:`commands.log_demand`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from intake_service import commands, queries
from intake_service.domain import IntakeRefused
from intake_service.domain.policy import is_demand_id
from intake_service.http import caller, ctx
from intake_service.http.pages import STATIC, TEMPLATES, body_from_form, number, promises
from intake_service.http.schemas import DemandIn, IdempotencyHeaders
from shared.calendar import SHANGHAI, BusinessCalendar
from shared.config import Settings
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import COMPLEXITIES
from shared.validation import flatten_errors
from shared.webkit.errors import status_of
from shared.webkit.pages import page_blueprint, require_page, wants_json
from shared.webkit.pages.errors import localize, localize_all
from shared.webkit.pages.labels import street_name
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("helpdesk", __name__, template_folder=str(TEMPLATES), static_folder=str(STATIC))

CHANNEL = "online_helpdesk"
LIST_LIMIT = 100
POLL_SECONDS = 2  # the live list's refresh: measured with bench/live_channel.py (docs/pages.md)


# --- the first-answer clock (pure) ---------------------------------------------------------------------


@dataclass(frozen=True)
class FirstAnswerClock:
    """Where a demand's first-answer promise stands now, in business seconds."""

    target: float  # business seconds promised
    left: float  # business seconds left (negative: overdue by that much)
    alert_left: float  # at or under this many seconds left the row is an alert (80 % of the target used)
    due_at: datetime  # the working-time deadline
    running: bool  # business time runs now
    zero_at: datetime | None = None  # running: when ``left`` reaches 0 if time keeps running
    pause_at: datetime | None = None  # running: the end of the working window (the clock stops there)
    resumes_at: datetime | None = None  # stopped: the next working instant

    @property
    def state(self) -> str:
        """ok, alert (the last 20 %) or overdue: told in words and colour."""
        return "overdue" if self.left <= 0 else "alert" if self.left <= self.alert_left else "ok"


def first_answer_clock(calendar: BusinessCalendar, target: float, warning_fraction: float,
                       reported_at: datetime, now: datetime) -> FirstAnswerClock:
    """The clock of a demand reported at ``reported_at`` promised an answer within ``target`` business seconds.

    While business time runs, ``zero_at`` stays the same instant from one rendering to the next (so the
    page's list does not change at every refresh): from the later of the window's start and the report,
    business and wall time go at the same pace until ``pause_at``.
    """
    left = target - calendar.business_seconds_between(reported_at, now)
    common = {"target": target, "left": left, "alert_left": target - target * warning_fraction,
              "due_at": calendar.add_business_seconds(reported_at, target)}
    if calendar.next_business_instant(now) != now:
        return FirstAnswerClock(**common, running=False, resumes_at=calendar.next_business_instant(now))
    today = now.astimezone(SHANGHAI).date()
    window_start = datetime.combine(today, calendar.day_start, tzinfo=SHANGHAI)
    window_end = datetime.combine(today, calendar.day_end, tzinfo=SHANGHAI)
    start = max(window_start, reported_at)
    zero_at = start + timedelta(seconds=target - calendar.business_seconds_between(reported_at, start))
    return FirstAnswerClock(**common, running=True, zero_at=zero_at, pause_at=window_end)


def first_answer_rules(settings: Settings) -> tuple[BusinessCalendar, float, float]:
    """The calendar, the online channel's first-response target and the warning share of this deployment."""
    calendar, promised = promises(settings)
    target = promised.first_response_for(CHANNEL)
    if target is None:
        raise ValueError(f"{settings.sla_policy_path}: no first_response target for {CHANNEL}")
    return calendar, target, promised.warning_fraction


def clock_of(settings: Settings, reported_at: datetime, now: datetime) -> FirstAnswerClock:
    """A demand's first-answer clock under this deployment's policy and calendar."""
    calendar, target, fraction = first_answer_rules(settings)
    return first_answer_clock(calendar, target, fraction, reported_at, now)


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


# --- the desk --------------------------------------------------------------------------------------------


def _rows() -> list[dict[str, Any]]:
    settings, now = ctx().settings, ctx().now()
    rows = []
    for item in queries.unanswered_online(ctx(), caller(), LIST_LIMIT):
        rows.append({**item, "number": number(item["id"]), "clock": clock_of(settings, item["reported_at"], now)})
    return rows


@bp.context_processor
def _helpers() -> dict[str, Any]:
    return {"ms": _ms, "seconds_words": seconds_words}


def seconds_words(left: float) -> str:
    """ "42 seconds left" or "overdue by 5 seconds", as the page's script writes it while it ticks."""
    if left > 0:
        return gettext("%(n)s seconds left", n=int(-(-left // 1)))
    return gettext("overdue by %(n)s seconds", n=int(-left // 1))


@bp.get("/helpdesk")
@require_page("helpdesk_agent")
def desk() -> str:
    """The live list of online demands waiting for their first answer."""
    return _desk_page(None)


def _desk_page(problem: str | None) -> str:
    filed = request.args.get("filed")
    settings = ctx().settings
    _calendar, target, fraction = first_answer_rules(settings)
    return render_template("intake/helpdesk.html", rows=_rows(), poll_seconds=POLL_SECONDS,
                           target=target, warning_fraction=fraction,
                           problem=problem, filed=number(filed) if filed and is_demand_id(filed) else None,
                           server_now=_ms(ctx().now()))


@bp.get("/helpdesk/list")
@require_page("helpdesk_agent")
def desk_list() -> str:
    """The list alone, for the page's refresh."""
    return render_template("intake/_helpdesk_list.html", rows=_rows())


def _answer_refused(status: int | None) -> tuple[int, str]:
    """Why routing did not take the answer, in words (never a 500)."""
    if status == 409:
        return 409, gettext("It was already answered, or it is not waiting for a first answer (not yet with "
                            "an officer, or already resolved).")
    if status == 404:
        return 404, gettext("Routing has not received this demand yet. Try again in a few seconds.")
    if status in (401, 403):
        return 403, gettext("Routing did not let you answer this demand.")
    return 503, gettext("Routing is not answering. Try again; the demand stays in the list.")


@bp.post("/helpdesk/demands/<demand_id>/acknowledge")
@require_page("helpdesk_agent")
def acknowledge(demand_id: str) -> Any:
    """Give the demand its first answer: routing's ``acknowledge`` as this agent (stops the 1-minute clock)."""
    if not is_demand_id(demand_id):
        status, message = 404, gettext("There is no such demand, or it is not yours to see.")
    else:
        try:
            call_service("routing", f"/api/v1/demands/{demand_id}/acknowledge", body={})
        except ServiceUnavailable as exc:
            status, message = _answer_refused(exc.status)
        else:
            status, message = 200, gettext("Answered: the first-response clock has stopped.")
    if wants_json():
        return jsonify(code=str(status), message=message, errors={}), status
    if status == 200:
        return redirect(url_for("helpdesk.desk", answered=demand_id))
    return _desk_page(message), status


# --- logging an online demand ----------------------------------------------------------------------------


@bp.get("/helpdesk/new")
@require_page("helpdesk_agent")
def new_demand() -> str:
    """The form: the grid form's fields, channel fixed to online, the street chosen (agents serve every street)."""
    return _form_page(MultiDict(), {}, None)


def _form_page(form: MultiDict[str, str], errors: dict[str, list[str]], message: str | None) -> str:
    streets = sorted(STREETS, key=street_name)
    return render_template("intake/helpdesk_new.html", form=form, errors=errors, message=message,
                           categories=sorted(CATEGORIES), complexities=COMPLEXITIES, streets=streets,
                           idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()))


@bp.post("/helpdesk/demands")
@require_page("helpdesk_agent")
def file_demand() -> Any:
    """Log one online demand (the same input layer and use case as the API); safe to repeat with its key."""
    form = request.form
    body = body_from_form(form, form.get("street", "").strip())
    body["channel"] = CHANNEL
    try:
        key = form.get("idempotency_key") or None
        key = key and IdempotencyHeaders().load({"Idempotency-Key": key})["idempotency_key"]
        loaded = DemandIn().load(body)
    except ValidationError as exc:
        errors = localize_all(flatten_errors(exc.messages))
        return _form_page(form, errors, gettext("Some fields need fixing.")), 422
    try:
        logged = commands.log_demand(ctx(), caller(), loaded, key)
    except IntakeRefused as refusal:
        if refusal.kind == "conflict":
            message = gettext("This draft was already filed with different contents.")
        elif refusal.kind == "invalid":
            message = gettext("Some fields need fixing.")
        else:
            message = localize(refusal.message)
        return _form_page(form, localize_all(refusal.errors), message), status_of(refusal)
    return redirect(url_for("helpdesk.desk", filed=logged.demand.id))
