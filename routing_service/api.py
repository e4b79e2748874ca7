"""Routing's HTTP API: where a demand went and why."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from routing_service.model import Assignment, Transfer
from shared.auth import require
from shared.db import unit_of_work
from shared.web import api_error, sessions

blp = Blueprint("routing", __name__, url_prefix="/api/v1", description="Assignments, queues and officer actions")


class TransferOut(Schema):
    from_officer_id = fields.String(allow_none=True)
    to_officer_id = fields.String(allow_none=True)
    to_department = fields.String(allow_none=True)
    reason = fields.String()
    at = fields.AwareDateTime()


class AssignmentOut(Schema):
    demand_id = fields.String()
    state = fields.String()
    officer_id = fields.String(allow_none=True)
    officer_kind = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    rule = fields.String()
    assigned_at = fields.AwareDateTime(allow_none=True)
    transfers = fields.List(fields.Nested(TransferOut))


@blp.route("/demands/<demand_id>/assignment", methods=["GET"])
@require("officer", "supervisor", "admin")
@blp.response(200, AssignmentOut)
@blp.doc(security=[{"bearerAuth": []}])
def get_assignment(demand_id: str) -> dict[str, Any]:
    """Who holds the demand, by which rule, and its transfer history."""
    with unit_of_work(sessions()) as session:
        a = session.get(Assignment, demand_id)
        if a is None:
            api_error(404, f"demand {demand_id} has not reached routing")
        transfers = session.scalars(select(Transfer).where(Transfer.demand_id == demand_id).order_by(Transfer.id))
        return {
            "demand_id": a.demand_id, "state": a.state, "officer_id": a.officer_id, "officer_kind": a.officer_kind,
            "department": a.department, "rule": a.rule, "assigned_at": a.assigned_at,
            "transfers": [{"from_officer_id": t.from_officer_id, "to_officer_id": t.to_officer_id,
                           "to_department": t.to_department, "reason": t.reason, "at": t.at} for t in transfers],
        }
