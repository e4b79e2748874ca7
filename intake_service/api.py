"""Intake's HTTP API: log a demand, read it back with its timeline."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import url_for
from flask_smorest import Blueprint
from sqlalchemy import select

from intake_service.model import Demand, TimelineEntry
from intake_service.schemas import DemandIn, DemandOut
from shared.auth import current_principal, require
from shared.db import unit_of_work
from shared.events import new_event
from shared.outbox import emit
from shared.validation import mask_phone, normalize_phone, normalize_uscc
from shared.web import api_error, sessions

blp = Blueprint("demands", __name__, url_prefix="/api/v1", description="Log and follow enterprise demands")

# Which channels each role may log (district plan part (三) 3).
CHANNELS_BY_ROLE = {
    "grid_worker": {"grid"},
    "hotline_agent": {"hotline_12345"},
    "helpdesk_agent": {"online_helpdesk"},
    "officer": {"fallback_window", "walk_in"},
    "supervisor": {"fallback_window", "walk_in"},
}


def _request_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@blp.route("/demands", methods=["POST"])
@require(*CHANNELS_BY_ROLE)
@blp.arguments(DemandIn)
@blp.response(201, DemandOut)
@blp.doc(security=[{"bearerAuth": []}])
def create_demand(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Log a demand: stored and its `submitted` event queued in one transaction."""
    principal = current_principal()
    if body["channel"] not in CHANNELS_BY_ROLE[principal.role]:
        api_error(403, f"role {principal.role} may not log demands on channel {body['channel']}")
    if principal.role == "grid_worker" and body["street"] != principal.street:
        api_error(403, f"a grid worker of {principal.street} may not log demands in {body['street']}")
    now = datetime.now(UTC)
    enterprise = body["enterprise"]
    demand = Demand(
        id=str(uuid.uuid4()), status="submitted", channel=body["channel"], street=body["street"],
        grid=body.get("grid"), category=body["category"], complexity=body["complexity"], title=body["title"],
        description=body["description"], enterprise_name=enterprise["name"],
        enterprise_uscc=normalize_uscc(enterprise["uscc"]), contact_name=enterprise["contact_name"],
        contact_phone=normalize_phone(enterprise["contact_phone"]), reported_at=body["reported_at"] or now,
        received_at=now, updated_at=now, created_by=principal.subject, request_hash=_request_hash(body),
    )
    with unit_of_work(sessions()) as session:
        session.add(demand)
        emit(session, new_event("yangpu.demand.submitted.v1", {
            "demand_id": demand.id, "channel": demand.channel, "street": demand.street, "grid": demand.grid,
            "category": demand.category, "complexity": demand.complexity, "title": demand.title,
            "enterprise": {"uscc": demand.enterprise_uscc, "name": demand.enterprise_name,
                           "key_enterprise": False, "chief_officer_id": None},
            "reported_at": demand.reported_at, "received_at": demand.received_at,
        }, source="/intake"))
    return _view(demand, []), 201, {"Location": url_for("demands.get_demand", demand_id=demand.id)}


@blp.route("/demands/<demand_id>", methods=["GET"])
@require()
@blp.response(200, DemandOut)
@blp.doc(security=[{"bearerAuth": []}])
def get_demand(demand_id: str) -> dict[str, Any]:
    """A demand's current status and full timeline."""
    with unit_of_work(sessions()) as session:
        demand = session.get(Demand, demand_id)
        if demand is None:
            api_error(404, f"no demand {demand_id}")
        timeline = session.scalars(select(TimelineEntry).where(TimelineEntry.demand_id == demand_id)
                                   .order_by(TimelineEntry.at, TimelineEntry.id)).all()
        return _view(demand, timeline)


def _view(demand: Demand, timeline: list[TimelineEntry]) -> dict[str, Any]:
    principal = current_principal()
    sees_phone = principal.role == "supervisor" or principal.subject == demand.assignee_id
    return {
        "id": demand.id, "status": demand.status, "channel": demand.channel, "street": demand.street,
        "grid": demand.grid, "category": demand.category, "complexity": demand.complexity,
        "title": demand.title, "description": demand.description, "assignee_id": demand.assignee_id,
        "enterprise": {
            "name": demand.enterprise_name, "uscc": demand.enterprise_uscc,
            "contact_name": demand.contact_name,
            "contact_phone": demand.contact_phone if sees_phone else mask_phone(demand.contact_phone),
        },
        "reported_at": demand.reported_at, "received_at": demand.received_at, "updated_at": demand.updated_at,
        "timeline": [{"kind": t.kind, "at": t.at, "actor_id": t.actor_id, "details": t.details} for t in timeline],
    }
