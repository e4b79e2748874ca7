"""Routing's HTTP API for officers and supervisors: where a demand went and why, the queues, and the actions.

Views read the caller and the body and call one query or command; a refusal they raise is answered by the
suite's one mapping (:mod:`shared.webkit.errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify
from marshmallow import Schema

from routing_service import commands, queries
from routing_service.domain.alerts import ALERT_READERS, FEED_ALERTS, FEED_NOTIFICATIONS
from routing_service.domain.policy import action_roles
from routing_service.http.schemas import (
    ACTION_SCHEMAS,
    AlertsArgs,
    AlertsOut,
    AlertWebhookIn,
    AlertWebhookOut,
    AssignmentOut,
    NoticesOut,
    QueueArgs,
    QueueOut,
    ReadIn,
    ReadOut,
    StreetQueueArgs,
)
from shared.webkit.app import BEARER, answers, context
from shared.webkit.auth import current_principal, require
from shared.webkit.inputs import ApiBlueprint, body_limit

blp = ApiBlueprint("routing", __name__, url_prefix="/api/v1", description="Assignments, queues and officer actions")
# 1,000 alerts (the payload's bound) with their labels and annotations.
WEBHOOK_BODY_LIMIT = 4 * 1024 * 1024


@blp.route("/demands/<demand_id>/assignment", methods=["GET"])
@require("officer", "supervisor", "admin", "hotline_agent")  # the hotline tells a caller the demand's deadlines
@blp.response(200, AssignmentOut)
@blp.doc(security=BEARER)
def get_assignment(demand_id: str) -> dict[str, Any]:
    """Who holds the demand, by which rule, its clocks as routing last heard, and its transfer history."""
    return queries.assignment(context(), current_principal(), demand_id)


# --- queues (serialised by the query, documented by QueueOut: the queue is the hot read) -----------------


@blp.route("/queue", methods=["GET"])
@require("officer", "supervisor")
@blp.arguments(QueueArgs, location="query")
@blp.response(200, QueueOut)
@blp.doc(security=BEARER)
def my_queue(args: dict[str, Any]) -> Response:
    """The caller's demands: open ones most urgent first with the time left on each clock (``tab=open``, the
    default), resolved ones awaiting feedback or the close (``tab=resolved``), closed ones (``tab=closed``);
    ``q`` searches the enterprise's name, credit code and title; ``status``, ``channel``, ``due_today`` filter."""
    return jsonify(queries.my_queue(context(), current_principal().subject, args))


@blp.route("/streets/<street>/queue", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(StreetQueueArgs, location="query")
@blp.response(200, QueueOut)
@blp.doc(security=BEARER)
def street_queue(args: dict[str, Any], street: str) -> Response:
    """A street's demands nobody could take (``kind=unassigned``) or that were escalated (``kind=escalated``)."""
    return jsonify(queries.street_queue(context(), current_principal(), street, args["kind"], args))


# --- actions ---------------------------------------------------------------------------------------


def _action(action: str, schema: type[Schema], summary: str) -> None:
    """Register ``POST /demands/{id}/<action>``: one state-machine transition and its event."""

    def view(body: dict[str, Any], demand_id: str) -> dict[str, Any]:
        return commands.act(context(), demand_id, action, body, current_principal())

    view.__name__ = f"action_{action.replace('-', '_')}"
    view.__doc__ = summary
    decorated: Callable[..., Any] = blp.doc(security=BEARER)(blp.response(200, AssignmentOut)(view))
    decorated = blp.arguments(schema)(decorated)
    decorated = require(*action_roles(action))(decorated)
    blp.route(f"/demands/<demand_id>/{action}", methods=["POST"])(decorated)


for _name, _summary in (
    ("acknowledge", "First response: the holder has taken the demand up (stops the first-response clock)."),
    ("request-materials", "Ask the enterprise for materials: the resolution clock pauses until they arrive."),
    ("materials-received", "The enterprise's materials arrived: the resolution clock resumes."),
    ("transfer", "Hand the demand to an officer or the supervisor of its street, or to a department specialist "
                 "(clocks do not restart); anyone else is 422 on `to_officer`. The holder, the street's "
                 "supervisor or an admin transfers; on an unassigned demand, a supervisor assigns it."),
    ("resolve", "Resolve the demand with an outcome and a note (frees the holder's capacity)."),
    ("escalate", "Escalate to the street supervisor (the demand stays with its holder)."),
    ("feedback", "Record the enterprise's satisfaction, as a grid worker of its street or a hotline or help-desk "
                 "agent speaking for it (never the holder: 403); unsatisfied reopens it to the same officer."),
    ("close", "Close a resolved demand."),
    ("request-extension", "Ask for more working days (延期申请): the holder or the street's supervisor, while "
                          "acknowledged or awaiting materials; one request waits at a time (409), within the SLA "
                          "policy's cap (422 on `working_days`)."),
    ("approve-extension", "Grant the waiting extension (a supervisor of the street): sla moves the resolution "
                          "target; 409 when none waits or the policy's count is used up."),
    ("refuse-extension", "Refuse the waiting extension with a reason (a supervisor of the street)."),
    ("return", "Return the demand for re-routing with a reason code (退单, the holder): routing decides again "
               "without anyone who returned it; the second return goes to the street's supervisor, escalated. "
               "Clocks keep running."),
    ("approve-resolution", "Accept a resolution under review (结案审核): a supervisor of the street or an admin, "
                           "never its holder."),
    ("send-back", "Send a resolution under review back to its holder with a reason (reopens it to them)."),
    ("withdraw", "The enterprise withdraws the demand (撤销), recorded by whoever speaks for it; final."),
    ("reject", "Do not accept the demand (不予受理) with a reason code: a supervisor of the street; final."),
    ("merge", "Close this duplicate (重复) into the surviving demand `into` (open, the same enterprise); "
              "the holder or the street's supervisor; final."),
):
    _action(_name, ACTION_SCHEMAS[_name], _summary)


# --- alerts (issue 18) -------------------------------------------------------------------------------


@blp.route("/alerts/webhook", methods=["POST"])
@body_limit(WEBHOOK_BODY_LIMIT)
@require("alertmanager")
@blp.arguments(AlertWebhookIn)
@blp.response(200, AlertWebhookOut)
@answers(blp, {403: "Only Alertmanager (role alertmanager) delivers alerts.",
               422: "A field of the payload is invalid (named in errors)."})
def alerts_webhook(body: dict[str, Any]) -> dict[str, Any]:
    """Alertmanager's webhook (payload version 4): each alert is stored once per fingerprint and startsAt;
    a delivery repeated or retried updates it, ``resolved`` resolves it for good."""
    return commands.receive_alerts(context(), body)


@blp.route("/alerts", methods=["GET"])
@require(*ALERT_READERS)
@blp.arguments(AlertsArgs, location="query")
@blp.response(200, AlertsOut)
@answers(blp, {403: "Only supervisors (their street's alerts) and admins (every alert) read alerts.",
               422: "A query argument is invalid."})
def list_alerts(args: dict[str, Any]) -> dict[str, Any]:
    """The alerts the caller may see: a supervisor those labelled with their street, an admin every one
    (district-wide alerts have no street); each says whether it is unread, ``unread`` counts them (the bell)."""
    return queries.alerts(context(), current_principal(), args["show"])


@blp.route("/alerts/read", methods=["POST"])
@require(*ALERT_READERS)
@blp.arguments(ReadIn)
@blp.response(200, ReadOut)
@answers(blp, {403: "Only supervisors and admins read alerts.", 422: "through is not a time."})
def read_alerts(body: dict[str, Any]) -> dict[str, Any]:
    """Mark the caller's alerts read up to ``through`` (default now): the bell counts only later ones."""
    principal = current_principal()
    commands.mark_read(context(), principal.subject, FEED_ALERTS, body.get("through"))
    return {"unread": queries.unread_alerts(context(), principal)}


@blp.route("/notifications", methods=["GET"])
@require("officer", "supervisor")
@blp.response(200, NoticesOut)
@answers(blp, {403: "Only officers and supervisors hold demands."})
def list_notifications() -> dict[str, Any]:
    """The caller's notices, read from their open demands: a demand given to them, or one of its clocks reaching
    its warning threshold (sla's ``warning`` event) — what the officer's page shows and the browser announces."""
    found = queries.notifications(context(), current_principal().subject)
    return {"items": [{"kind": n.kind, "demand_id": n.demand_id, "at": n.at, "clock": n.clock, "title": n.title,
                       "enterprise_name": n.enterprise_name, "unread": unread} for n, unread in found["items"]],
            "unread": found["unread"]}


@blp.route("/notifications/read", methods=["POST"])
@require("officer", "supervisor")
@blp.arguments(ReadIn)
@blp.response(200, ReadOut)
@answers(blp, {403: "Only officers and supervisors hold demands.", 422: "through is not a time."})
def read_notifications(body: dict[str, Any]) -> dict[str, Any]:
    """Mark the caller's notices read up to ``through`` (default now; the newest the caller was shown)."""
    subject = current_principal().subject
    commands.mark_read(context(), subject, FEED_NOTIFICATIONS, body.get("through"))
    return {"unread": queries.notifications(context(), subject)["unread"]}
