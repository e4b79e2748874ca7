"""The 12345 hotline desk (``hotline_agent``): log a call, answer "where is my demand?", make the 回访 call.

A call is logged through the grid form's use case (:func:`intake_service.commands.log_demand`, the same
schema and Idempotency-Key, the form read by :func:`~intake_service.http.pages.body_from_form`), on the
``hotline_12345`` channel in the street the agent chose; routing gives it to a department specialist. The
agent reads every demand (phones masked, :mod:`intake_service.domain.policy`); the deadlines come from
routing's assignment and the 回访 goes to routing's ``feedback`` action, both as the signed-in agent
(:func:`~shared.webkit.service_client.call_service`), so routing applies its own rules. Every refusal is
shown as words on the page.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from intake_service import commands, queries
from intake_service.domain import IntakeRefused
from intake_service.domain.policy import NOT_OPEN_STATUSES
from intake_service.http import caller, ctx
from intake_service.http.pages import body_from_form, not_yours, number, officer_names, registry_warnings, status_words
from intake_service.http.schemas import DemandIn, IdempotencyHeaders
from intake_service.model import Demand
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import COMPLEXITIES, SATISFACTIONS
from shared.validation import flatten_errors
from shared.webkit.errors import status_of
from shared.webkit.pages import page_blueprint, require_page
from shared.webkit.pages.errors import localize, localize_all
from shared.webkit.pages.labels import department_name, street_name
from shared.webkit.service_client import ServiceUnavailable, call_service

bp = page_blueprint("hotline", __name__, template_folder="../templates",
                    static_folder="../static")

CHANNEL = "hotline_12345"
SEARCH_LIMIT = 50
CALLBACK_LIMIT = 100
LOOKUP_LIMIT = 8
COMMENT_MAX = 1000  # routing's FeedbackIn.comment
REASON_MAX = 500  # routing's ReasonIn.reason


@bp.context_processor
def _page_helpers() -> dict[str, Any]:
    return {"status_words": status_words}


# --- log a call ------------------------------------------------------------------------------------------


@bp.get("/hotline")
@require_page("hotline_agent")
def desk() -> str:
    """The call form; after filing, the result panel (number, then who has it) above a fresh form."""
    filed = request.args.get("filed", "")
    result = _result(filed) if filed else None
    return _desk_page(MultiDict(), {}, None, result)


def _desk_page(form: MultiDict[str, str], errors: dict[str, list[str]], message: str | None,
               result: dict[str, Any] | None = None) -> str:
    return render_template(
        "intake/hotline.html", form=form, errors=errors, message=message, result=result,
        categories=sorted(CATEGORIES), complexities=COMPLEXITIES, streets=sorted(STREETS),
        idempotency_key=form.get("idempotency_key") or str(uuid.uuid4()),
        callbacks=len(queries.awaiting_callback(ctx(), caller(), CALLBACK_LIMIT)))


@bp.post("/hotline/demands")
@require_page("hotline_agent")
def log_call() -> Any:
    """File the call as a demand (safe to repeat with the same key), then show where it went."""
    form = request.form
    key = form.get("idempotency_key") or None
    street = form.get("street", "").strip()
    try:
        key = key and IdempotencyHeaders().load({"Idempotency-Key": key})["idempotency_key"]
        body = body_from_form(form, street)
        body["channel"] = CHANNEL
        if not street:
            body.pop("street")  # so the schema says it is required
        body = DemandIn().load(body)
    except ValidationError as exc:
        return _desk_page(form, localize_all(flatten_errors(exc.messages)), gettext("Some fields need fixing.")), 422
    try:
        logged = commands.log_demand(ctx(), caller(), body, key)
    except IntakeRefused as refusal:
        if refusal.kind == "conflict":
            message = gettext("This call was already filed with different contents. Reload the page to log "
                              "another one.")
        elif refusal.kind == "invalid":
            message = gettext("Some fields need fixing.")
        else:
            message = localize(refusal.message)
        return _desk_page(form, localize_all(refusal.errors), message), status_of(refusal)
    return redirect(url_for("hotline.desk", filed=logged.demand.id))


@bp.get("/hotline/demands/<demand_id>/result")
@require_page("hotline_agent")
def result(demand_id: str) -> Any:
    """The result panel alone, for the desk's refresh until routing's ``assigned`` event reaches intake."""
    found = _result(demand_id)
    if found is None:
        return Response(gettext("There is no such demand."), status=404, mimetype="text/plain")
    return render_template("intake/_hotline_result.html", result=found)


def _result(demand_id: str) -> dict[str, Any] | None:
    try:
        demand, _ = queries.readable_demand(ctx(), caller(), demand_id)
    except IntakeRefused:
        return None
    return {"id": demand.id, "number": number(demand.id), "title": demand.title, "status": demand.status,
            "warnings": registry_warnings(demand), **_holder(demand)}


def _holder(demand: Demand | dict[str, Any]) -> dict[str, str | None]:
    """Who has the demand: the officer's name and the department (a 12345 demand goes to a specialist)."""
    assignee = demand.assignee_id if isinstance(demand, Demand) else demand["assignee_id"]
    department = demand.department if isinstance(demand, Demand) else demand["department"]
    return {"officer": officer_names().get(assignee, assignee) if assignee else None,
            "department": department_name(department) if department else None}


@bp.get("/hotline/enterprises")
@require_page("hotline_agent")
def find_by_phone() -> Response:
    """The enterprises that gave this number as their contact phone on an earlier demand (the registry look-up
    by name or credit code is the grid form's, ``/grid/enterprises``)."""
    rows = queries.enterprises_by_phone(ctx(), request.args.get("phone", "").strip()[:40], LOOKUP_LIMIT)
    return jsonify(items=[{**row, "street_name": street_name(row["street"])} for row in rows])


# --- where is my demand? ----------------------------------------------------------------------------------


@bp.get("/hotline/search")
@require_page("hotline_agent")
def search() -> str:
    """Any demand by number, credit code, contact phone or enterprise name."""
    q = request.args.get("q", "").strip()[:200]
    items = _listed(queries.hotline_search(ctx(), caller(), q, SEARCH_LIMIT)) if q else []
    return render_template("intake/hotline_search.html", q=q, items=items)


@bp.get("/hotline/callbacks")
@require_page("hotline_agent")
def callbacks() -> str:
    """The resolved demands whose enterprise has not been asked yet: the 回访 calls to make."""
    return render_template("intake/hotline_callbacks.html",
                           items=_listed(queries.awaiting_callback(ctx(), caller(), CALLBACK_LIMIT)))


def _listed(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**d, "number": number(d["id"]), **_holder(d)} for d in items]


@bp.get("/hotline/demands/<demand_id>")
@require_page("hotline_agent")
def demand_page(demand_id: str) -> Any:
    """One demand as the agent tells it: status in words, who has it, its deadlines, the timeline, the 回访."""
    return _demand_page(demand_id)


def _demand_page(demand_id: str, message: str | None = None, status: int = 200,
                 form: MultiDict[str, str] | None = None, withdraw_problem: str | None = None) -> Any:
    who = caller()
    try:
        demand, timeline = queries.readable_demand(ctx(), who, demand_id)
    except IntakeRefused as refusal:
        return not_yours(refusal)
    view = queries.full_view(who, demand, timeline)
    clocks, clocks_problem = _clocks(demand_id)
    return render_template(
        "intake/hotline_demand.html", d=view, number=number(demand.id), holder=_holder(demand),
        names=officer_names(), clocks=clocks, clocks_problem=clocks_problem, message=message,
        form=form or MultiDict(), satisfactions=SATISFACTIONS, comment_max=COMMENT_MAX,
        asks_feedback=demand.status == "resolved" and demand.satisfaction is None,
        may_withdraw=demand.status not in NOT_OPEN_STATUSES, withdraw_problem=withdraw_problem,
        reason_max=REASON_MAX, withdrawn=bool(request.args.get("withdrawn")),
        rated=request.args.get("rated") if request.args.get("rated") in SATISFACTIONS else None), status


def _clocks(demand_id: str) -> tuple[list[dict[str, Any]], str | None]:
    """The demand's SLA clocks as routing last heard, or why they cannot be shown."""
    try:
        return call_service("routing", f"/api/v1/demands/{demand_id}/assignment").get("clocks", []), None
    except ServiceUnavailable as exc:
        if exc.status == 404:
            return [], gettext("Routing has not received this demand yet; its deadlines start once it has.")
        return [], gettext("The deadlines cannot be shown right now: the routing service did not answer.")
    except AttributeError:  # not a JSON object: nothing to show
        return [], gettext("The deadlines cannot be shown right now: the routing service did not answer.")


# --- 回访: the enterprise's satisfaction ---------------------------------------------------------------------


@bp.post("/hotline/demands/<demand_id>/feedback")
@require_page("hotline_agent")
def record_feedback(demand_id: str) -> Any:
    """Record what the enterprise said on the 回访 call, through routing's ``feedback`` action (不满意 reopens
    the demand there); nothing is pre-selected, so a missing answer is asked for again."""
    form = request.form
    satisfaction = form.get("satisfaction", "")
    comment = form.get("comment", "").strip()
    if satisfaction not in SATISFACTIONS:
        return _demand_page(demand_id, gettext("Choose what the enterprise said: satisfied, basically satisfied "
                                               "or unsatisfied."), 422, form)
    if len(comment) > COMMENT_MAX:
        return _demand_page(demand_id, gettext("The comment is too long (at most %(n)s characters).",
                                               n=COMMENT_MAX), 422, form)
    body = {"satisfaction": satisfaction, **({"comment": comment} if comment else {})}
    try:
        call_service("routing", f"/api/v1/demands/{demand_id}/feedback", body=body)
    except ServiceUnavailable as exc:
        return _demand_page(demand_id, _feedback_refused(exc.status), exc.status or 503, form)
    return redirect(url_for("hotline.demand_page", demand_id=demand_id, rated=satisfaction))


def _feedback_refused(status: int | None) -> str:
    """Routing's refusal of a 回访, in words."""
    if status is None:
        return gettext("The answer was not recorded: the routing service did not answer. Try again in a moment.")
    if status == 409:
        return gettext("The answer was not recorded: the demand is no longer awaiting the enterprise's answer "
                       "(it was already rated, reopened or closed).")
    if status == 403:
        return gettext("The answer was not recorded: you may not rate this demand.")
    if status == 404:
        return gettext("The answer was not recorded: routing does not know this demand.")
    if status == 422:
        return gettext("The answer was not recorded: routing refused it as incomplete.")
    return gettext("The answer was not recorded. Try again in a moment.")


# --- 撤销: the enterprise withdraws its demand ---------------------------------------------------------------


@bp.post("/hotline/demands/<demand_id>/withdraw")
@require_page("hotline_agent")
def withdraw(demand_id: str) -> Any:
    """Withdraw the demand at the enterprise's request, said on the phone, through routing's ``withdraw`` action
    as the signed-in agent (the clocks stop; the demand leaves the resolution rate). The agent writes down what
    the enterprise said: routing keeps it as the reason."""
    form = request.form
    reason = form.get("reason", "").strip()
    if not reason or len(reason) > REASON_MAX:
        problem = (gettext("Write down why the enterprise withdraws it.") if not reason else
                   gettext("The reason is too long (at most %(n)s characters).", n=REASON_MAX))
        return _demand_page(demand_id, None, 422, form, problem)
    try:
        call_service("routing", f"/api/v1/demands/{demand_id}/withdraw", body={"reason": reason})
    except ServiceUnavailable as exc:
        return _demand_page(demand_id, None, exc.status or 503, form, _withdraw_refused(exc.status))
    return redirect(url_for("hotline.demand_page", demand_id=demand_id, withdrawn=1))


def _withdraw_refused(status: int | None) -> str:
    """Routing's refusal of a withdrawal, in words."""
    if status == 409:
        return gettext("Not withdrawn: the demand can no longer be withdrawn (it is already resolved or ended).")
    if status == 403:
        return gettext("Not withdrawn: you may not withdraw this demand.")
    if status == 404:
        return gettext("Not withdrawn: routing has not received this demand yet. Try again in a moment.")
    if status == 422:
        return gettext("Not withdrawn: routing refused it as incomplete.")
    return gettext("Not withdrawn: the routing service did not answer. Try again in a moment.")
