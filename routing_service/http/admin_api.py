"""The roster admin API: list, read, create and edit officers; switch them on/off duty; change capacity.

Everything here is for the ``admin`` role. Input is validated like the YAML roster (one schema, in
:mod:`routing_service.roster`): unknown street, department or category codes are 422 with field paths.
More room (on duty again, a higher capacity) is offered to the unassigned queues by the worker's timer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select
from sqlalchemy.orm import Session

from routing_service.model import Officer
from routing_service.policy import KINDS, Duty
from routing_service.roster import DutySchema, OfficerFields, OfficerIn, apply, as_dict, normalise, officer_problems
from shared.db import unit_of_work
from shared.webkit.app import api_error, sessions
from shared.webkit.auth import require

blp = Blueprint("officers", __name__, url_prefix="/api/v1", description="The officer roster (admins)")
SECURITY = [{"bearerAuth": []}]


class OfficerOut(Schema):
    id = fields.String()
    name = fields.String()
    kind = fields.String()
    streets = fields.List(fields.String())
    department = fields.String(allow_none=True)
    skills = fields.List(fields.String())
    capacity = fields.Integer()
    duty = fields.Nested(DutySchema)
    open_count = fields.Integer(metadata={"description": "Open demands the officer holds now"})
    on_duty = fields.Boolean(metadata={"description": "The admin's switch; off = not given demands"})
    on_shift_now = fields.Boolean(metadata={"description": "Within the weekly duty hours at this moment"})
    edited_at = fields.AwareDateTime(allow_none=True)


class OfficerListArgs(Schema):
    street = fields.String(metadata={"description": "Officers serving this street (or every street)"})
    kind = fields.String(validate=validate.OneOf(KINDS))
    department = fields.String()


class OfficerPatch(OfficerFields):
    """Any subset of the officer's fields."""


class CapacityIn(Schema):
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=100_000))


def _out(o: Officer) -> dict[str, Any]:
    duty = dict(o.duty)
    return {**as_dict(o), "duty": DutySchema().load(duty), "open_count": o.open_count, "on_duty": o.on_duty,
            "on_shift_now": Duty.from_dict(duty).covers(datetime.now(UTC)), "edited_at": o.edited_at}


def _get(session: Session, officer_id: str) -> Officer:
    officer = session.get(Officer, officer_id, with_for_update=True)
    if officer is None:
        api_error(404, f"no officer {officer_id!r} in the roster")
    return officer


def _cross_field(data: dict[str, Any]) -> None:
    problems = officer_problems(data)
    if problems:
        api_error(422, "some fields are invalid; see errors", problems)


@blp.route("/officers", methods=["GET"])
@require("admin")
@blp.arguments(OfficerListArgs, location="query")
@blp.response(200, OfficerOut(many=True))
@blp.doc(security=SECURITY)
def list_officers(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The roster, optionally filtered by street, kind or department."""
    with unit_of_work(sessions()) as session:
        officers = session.scalars(select(Officer).order_by(Officer.id)).all()
    return [_out(o) for o in officers
            if ("street" not in args or args["street"] in o.streets or "*" in o.streets)
            and args.get("kind", o.kind) == o.kind and args.get("department", o.department) == o.department]


@blp.route("/officers/<officer_id>", methods=["GET"])
@require("admin")
@blp.response(200, OfficerOut)
@blp.doc(security=SECURITY)
def get_officer(officer_id: str) -> dict[str, Any]:
    """One officer with their current load."""
    with unit_of_work(sessions()) as session:
        return _out(_get(session, officer_id))


@blp.route("/officers", methods=["POST"])
@require("admin")
@blp.arguments(OfficerIn)
@blp.response(201, OfficerOut)
@blp.doc(security=SECURITY)
def create_officer(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Add an officer (on duty, no open demands)."""
    _cross_field(body)
    data = normalise(body)
    with unit_of_work(sessions()) as session:
        if session.get(Officer, data["id"]) is not None:
            api_error(409, f"officer {data['id']!r} exists already; PATCH it instead")
        officer = Officer(id=data["id"], open_count=0, last_assigned_seq=0, on_duty=True,
                          edited_at=datetime.now(UTC))
        apply(officer, data)
        session.add(officer)
        session.flush()
        out = _out(officer)
    return out, 201, {"Location": url_for("officers.get_officer", officer_id=officer.id)}


@blp.route("/officers/<officer_id>", methods=["PATCH"])
@require("admin")
@blp.arguments(OfficerPatch(partial=True))
@blp.response(200, OfficerOut)
@blp.doc(security=SECURITY)
def update_officer(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Change any of an officer's fields; the result is validated as a whole."""
    with unit_of_work(sessions()) as session:
        officer = _get(session, officer_id)
        _cross_field({**as_dict(officer), **body})
        apply(officer, normalise(body))
        officer.edited_at = datetime.now(UTC)
        session.flush()
        return _out(officer)


def _set_on_duty(officer_id: str, on_duty: bool) -> dict[str, Any]:
    with unit_of_work(sessions()) as session:
        officer = _get(session, officer_id)
        officer.on_duty = on_duty
        session.flush()
        return _out(officer)


@blp.route("/officers/<officer_id>/off-duty", methods=["POST"])
@require("admin")
@blp.response(200, OfficerOut)
@blp.doc(security=SECURITY)
def take_off_duty(officer_id: str) -> dict[str, Any]:
    """Stop giving the officer demands (leave, sickness); what they hold stays theirs."""
    return _set_on_duty(officer_id, False)


@blp.route("/officers/<officer_id>/on-duty", methods=["POST"])
@require("admin")
@blp.response(200, OfficerOut)
@blp.doc(security=SECURITY)
def put_on_duty(officer_id: str) -> dict[str, Any]:
    """Give the officer demands again (within their duty hours, for street commissioners)."""
    return _set_on_duty(officer_id, True)


@blp.route("/officers/<officer_id>/capacity", methods=["PUT"])
@require("admin")
@blp.arguments(CapacityIn)
@blp.response(200, OfficerOut)
@blp.doc(security=SECURITY)
def set_capacity(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Change how many open demands the officer may hold. Lowering it below their load takes nothing away;
    they just get no more until they are under it."""
    with unit_of_work(sessions()) as session:
        officer = _get(session, officer_id)
        officer.capacity = body["capacity"]
        officer.edited_at = datetime.now(UTC)
        session.flush()
        return _out(officer)
