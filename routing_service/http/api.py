"""Routing's HTTP API for officers and supervisors: where a demand went and why, the queues, and the actions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import and_, func, or_, select, true
from sqlalchemy.orm import Session

from routing_service import metrics
from routing_service.actions import Refused, perform
from routing_service.dispatch import IS_UNASSIGNED
from routing_service.model import Assignment, Transfer
from routing_service.sla_projection import clock_views
from shared.auth import Principal
from shared.contracts.reference import DEPARTMENTS, STREETS
from shared.contracts.vocabulary import OUTCOMES, SATISFACTIONS
from shared.db import unit_of_work
from shared.webkit.app import api_error, sessions
from shared.webkit.auth import current_principal, require

blp = Blueprint("routing", __name__, url_prefix="/api/v1", description="Assignments, queues and officer actions")
SECURITY = [{"bearerAuth": []}]


# --- output ----------------------------------------------------------------------------------------


class ClockOut(Schema):
    kind = fields.String(metadata={"description": "first_response | resolution"})
    status = fields.String(metadata={"description": "running | paused | met | breached (as sla last said)"})
    target_at = fields.String(allow_none=True, metadata={"format": "date-time", "description": "ISO-8601 with offset"})
    seconds_left = fields.Float(allow_none=True, metadata={
        "description": "Wall-clock seconds until target_at, negative once passed; null while paused"})
    business_seconds_used = fields.Float()
    business_seconds_target = fields.Integer()


class TransferOut(Schema):
    from_officer_id = fields.String(allow_none=True)
    to_officer_id = fields.String(allow_none=True)
    to_department = fields.String(allow_none=True)
    reason = fields.String()
    rule = fields.String()
    actor_id = fields.String()
    at = fields.AwareDateTime()


class AssignmentOut(Schema):
    demand_id = fields.String()
    state = fields.String()
    street = fields.String()
    channel = fields.String()
    category = fields.String()
    officer_id = fields.String(allow_none=True)
    officer_kind = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    rule = fields.String(metadata={"description": "The rule that gave the demand to its current holder"})
    assigned_at = fields.AwareDateTime(allow_none=True)
    escalated = fields.Boolean()
    escalated_to = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    reopen_count = fields.Integer()
    next_due = fields.AwareDateTime(allow_none=True)
    clocks = fields.List(fields.Nested(ClockOut))
    transfers = fields.List(fields.Nested(TransferOut))


class QueueItem(Schema):
    demand_id = fields.String()
    state = fields.String()
    street = fields.String()
    channel = fields.String()
    category = fields.String()
    complexity = fields.String()
    title = fields.String()
    key_enterprise = fields.Boolean()
    officer_id = fields.String(allow_none=True)
    escalated = fields.Boolean()
    reported_at = fields.AwareDateTime()
    assigned_at = fields.AwareDateTime(allow_none=True)
    next_due = fields.AwareDateTime(allow_none=True, metadata={"description": "The nearest deadline in play"})
    clocks = fields.List(fields.Nested(ClockOut))


class QueueOut(Schema):
    total = fields.Integer(metadata={"description": "How many demands the queue holds (all pages)"})
    items = fields.List(fields.Nested(QueueItem))


class PageArgs(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0))


class StreetQueueArgs(PageArgs):
    kind = fields.String(load_default="unassigned", validate=validate.OneOf(["unassigned", "escalated"]))


def _clocks(sla: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The projected clocks as JSON values, with the wall-clock time left computed now."""
    return [{"kind": c.kind, "status": c.status, "target_at": _iso(c.target_at), "seconds_left": c.seconds_left(now),
             "business_seconds_used": c.business_seconds_used, "business_seconds_target": c.business_seconds_target}
            for c in sorted(clock_views(sla), key=lambda c: c.kind)]


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


_QUEUE_COLUMNS = (Assignment.demand_id, Assignment.state, Assignment.street, Assignment.channel, Assignment.category,
                  Assignment.complexity, Assignment.title, Assignment.key_enterprise, Assignment.officer_id,
                  Assignment.escalated, Assignment.reported_at, Assignment.assigned_at, Assignment.next_due,
                  Assignment.sla)


def _item(row: Any, now: datetime) -> dict[str, Any]:
    """One queue entry as JSON values (the queue is the hot read: it skips per-field schema dumping)."""
    return {"demand_id": row.demand_id, "state": row.state, "street": row.street, "channel": row.channel,
            "category": row.category, "complexity": row.complexity, "title": row.title,
            "key_enterprise": row.key_enterprise, "officer_id": row.officer_id, "escalated": row.escalated,
            "reported_at": _iso(row.reported_at), "assigned_at": _iso(row.assigned_at), "next_due": _iso(row.next_due),
            "clocks": _clocks(row.sla, now)}


def assignment_view(session: Session, a: Assignment) -> dict[str, Any]:
    transfers = session.scalars(select(Transfer).where(Transfer.demand_id == a.demand_id).order_by(Transfer.id))
    return {
        "demand_id": a.demand_id, "state": a.state, "street": a.street, "channel": a.channel,
        "category": a.category, "officer_id": a.officer_id, "officer_kind": a.officer_kind,
        "department": a.department, "rule": a.rule, "assigned_at": a.assigned_at, "escalated": a.escalated,
        "escalated_to": a.escalated_to, "outcome": a.outcome, "satisfaction": a.satisfaction,
        "reopen_count": a.reopen_count, "next_due": a.next_due, "clocks": _clocks(a.sla, datetime.now(UTC)),
        "transfers": [{"from_officer_id": t.from_officer_id, "to_officer_id": t.to_officer_id,
                       "to_department": t.to_department, "reason": t.reason, "rule": t.rule,
                       "actor_id": t.actor_id, "at": t.at} for t in transfers],
    }


def may_read(session: Session, principal: Principal, a: Assignment) -> bool:
    """Admins; supervisors of the street; the holder, and officers who held it before (transfer history)."""
    if principal.role == "admin" or (principal.role == "supervisor" and principal.street == a.street):
        return True
    if principal.subject in (a.officer_id, a.escalated_to):
        return True
    held_before = select(Transfer.id).where(Transfer.demand_id == a.demand_id,
                                            or_(Transfer.from_officer_id == principal.subject,
                                                Transfer.to_officer_id == principal.subject))
    return session.execute(held_before.limit(1)).first() is not None


@blp.route("/demands/<demand_id>/assignment", methods=["GET"])
@require("officer", "supervisor", "admin")
@blp.response(200, AssignmentOut)
@blp.doc(security=SECURITY)
def get_assignment(demand_id: str) -> dict[str, Any]:
    """Who holds the demand, by which rule, its clocks as routing last heard, and its transfer history."""
    principal = current_principal()
    with unit_of_work(sessions()) as session:
        a = session.get(Assignment, demand_id)
        if a is None:
            api_error(404, f"demand {demand_id} has not reached routing")
        if not may_read(session, principal, a):
            api_error(403, "only admins, supervisors of the demand's street and its holders may read it")
        return assignment_view(session, a)


# --- queues ----------------------------------------------------------------------------------------


URGENCY = (Assignment.next_due.asc().nulls_last(), Assignment.demand_id)


def queue_page(session: Session, where: Any, args: dict[str, Any]) -> dict[str, Any]:
    """One page of a queue, most urgent first; serialised here (documented by QueueOut) for speed."""
    now = datetime.now(UTC)
    total = session.scalar(select(func.count()).select_from(Assignment).where(where))
    rows = session.execute(select(*_QUEUE_COLUMNS).where(where).order_by(*URGENCY)
                           .limit(args["limit"]).offset(args["offset"]))
    return {"total": total, "items": [_item(row, now) for row in rows]}


@blp.route("/queue", methods=["GET"])
@require("officer", "supervisor")
@blp.arguments(PageArgs, location="query")
@blp.response(200, QueueOut)
@blp.doc(security=SECURITY)
def my_queue(args: dict[str, Any]) -> Response:
    """The caller's open demands, most urgent deadline first, with the time left on each clock."""
    subject = current_principal().subject
    with unit_of_work(sessions()) as session:
        return jsonify(queue_page(session, and_(Assignment.officer_id == subject, Assignment.is_open == true()),
                                  args))


@blp.route("/streets/<street>/queue", methods=["GET"])
@require("supervisor", "admin")
@blp.arguments(StreetQueueArgs, location="query")
@blp.response(200, QueueOut)
@blp.doc(security=SECURITY)
def street_queue(args: dict[str, Any], street: str) -> Response:
    """A street's demands nobody could take (``kind=unassigned``) or that were escalated (``kind=escalated``)."""
    principal = current_principal()
    if street not in STREETS:
        api_error(404, f"no street {street!r}")
    if principal.role == "supervisor" and principal.street != street:
        api_error(403, f"a supervisor of {principal.street} may not see the queues of {street}")
    if args["kind"] == "unassigned":
        where = and_(Assignment.street == street, IS_UNASSIGNED)
    else:
        where = and_(Assignment.street == street, Assignment.escalated, Assignment.is_open)
    with unit_of_work(sessions()) as session:
        return jsonify(queue_page(session, where, args))


# --- actions ---------------------------------------------------------------------------------------


class NoBody(Schema):
    """The action takes no fields."""


class MaterialsRequestIn(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=2000),
                         metadata={"description": "What the enterprise should provide"})


class TransferIn(Schema):
    to_officer = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "Roster id"})
    to_department = fields.String(validate=validate.OneOf(list(DEPARTMENTS), error="unknown department {input!r}"))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("to_officer" in data) == ("to_department" in data):
            raise ValidationError("give exactly one of to_officer or to_department", "to_officer")


class ResolveIn(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class EscalateIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class FeedbackIn(Schema):
    satisfaction = fields.String(required=True,
                                 validate=validate.OneOf(SATISFACTIONS))


def act(demand_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """Perform one state-machine transition for the caller (the API and the officer's page share it)."""
    principal = current_principal()
    try:
        with unit_of_work(sessions()) as session:
            a = perform(session, demand_id, action, body, principal, datetime.now(UTC))
            session.flush()
            view = assignment_view(session, a)
    except Refused as exc:
        metrics.ACTIONS.labels(action, "refused").inc()
        api_error(exc.status, exc.message, exc.errors)
    return view


def _action(action: str, schema: type[Schema], summary: str) -> None:
    """Register ``POST /demands/{id}/<action>``: one state-machine transition and its event."""

    def view(body: dict[str, Any], demand_id: str) -> dict[str, Any]:
        return act(demand_id, action, body)

    view.__name__ = f"action_{action.replace('-', '_')}"
    view.__doc__ = summary
    decorated: Callable[..., Any] = blp.doc(security=SECURITY)(blp.response(200, AssignmentOut)(view))
    decorated = blp.arguments(schema)(decorated)
    decorated = require("officer", "supervisor")(decorated)
    blp.route(f"/demands/<demand_id>/{action}", methods=["POST"])(decorated)


_action("acknowledge", NoBody, "First response: the holder has taken the demand up (stops the first-response clock).")
_action("request-materials", MaterialsRequestIn,
        "Ask the enterprise for materials: the resolution clock pauses until they arrive.")
_action("materials-received", NoBody, "The enterprise's materials arrived: the resolution clock resumes.")
_action("transfer", TransferIn,
        "Hand the demand to another officer or to a department's specialist (clocks do not restart). "
        "On an unassigned demand, a supervisor assigns it.")
_action("resolve", ResolveIn, "Resolve the demand with an outcome and a note (frees the holder's capacity).")
_action("escalate", EscalateIn, "Escalate to the street supervisor (the demand stays with its holder).")
_action("feedback", FeedbackIn, "Record the enterprise's satisfaction; unsatisfied reopens it to the same officer.")
_action("close", NoBody, "Close a resolved demand.")
