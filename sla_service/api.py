"""SLA's HTTP API: the clocks of a demand."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields
from sqlalchemy import select

from shared.auth import require
from shared.db import unit_of_work
from shared.web import api_error, sessions
from sla_service.handlers import POLICY
from sla_service.model import ClockRow

blp = Blueprint("sla", __name__, url_prefix="/api/v1/sla", description="SLA clocks, breaches and compliance")


class ClockOut(Schema):
    kind = fields.String()
    status = fields.String()
    started_at = fields.AwareDateTime()
    target_at = fields.AwareDateTime(allow_none=True)
    stopped_at = fields.AwareDateTime(allow_none=True)
    business_seconds_used = fields.Float()
    business_seconds_target = fields.Integer()


class DemandClocksOut(Schema):
    demand_id = fields.String()
    policy = fields.Dict()
    clocks = fields.List(fields.Nested(ClockOut))


@blp.route("/demands/<demand_id>", methods=["GET"])
@require("officer", "supervisor", "admin")
@blp.response(200, DemandClocksOut)
@blp.doc(security=[{"bearerAuth": []}])
def get_clocks(demand_id: str) -> dict[str, Any]:
    """The demand's clocks, with business time used and the instant each runs out."""
    with unit_of_work(sessions()) as session:
        rows = session.scalars(select(ClockRow).where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind)).all()
        if not rows:
            api_error(404, f"no clocks for demand {demand_id}")
        return {"demand_id": demand_id, "policy": POLICY.to_dict(), "clocks": [
            {"kind": r.kind, "status": r.status, "started_at": r.started_at, "target_at": r.target_at,
             "stopped_at": r.stopped_at, "business_seconds_used": r.business_seconds_used,
             "business_seconds_target": r.business_seconds_target} for r in rows]}
