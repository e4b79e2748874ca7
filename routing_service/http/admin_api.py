"""The roster admin API: list, read, create and edit officers; switch them on/off duty; change capacity.

Everything here is for the ``admin`` role, except the bulk reassignment of an officer's open demands, which a
supervisor may do for their own street's demands (issue 15). Input is validated like the YAML roster (one schema, in
:mod:`routing_service.reference`): unknown street, department or category codes are 422 with field paths.
More room (on duty again, a higher capacity) is offered to the unassigned queues by the worker's timer.
Every change is audited by its command (:mod:`shared.audit`), here and on the admin's roster page alike.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask_smorest import abort

from routing_service import commands, queries
from routing_service.http.schemas import (
    CapacityIn,
    LeaveIn,
    OfficerListArgs,
    OfficerOut,
    OfficerPatch,
    ReassignIn,
    ReassignOut,
)
from routing_service.reference import OfficerIn
from shared.audit import Journal
from shared.webkit.app import BEARER, context
from shared.webkit.auth import auth_store, current_principal, require
from shared.webkit.inputs import ApiBlueprint

blp = ApiBlueprint("officers", __name__, url_prefix="/api/v1", description="The officer roster (admins)")


def journal() -> Journal:
    """The audit in the identity store this app opened (the roster commands write to it)."""
    store = auth_store()
    if store is None:
        abort(503, message="this app has no identity store")
    return Journal(store.engine)


def _who() -> dict[str, Any]:
    return {"by": current_principal().subject, "journal": journal()}


@blp.route("/officers", methods=["GET"])
@require("admin")
@blp.arguments(OfficerListArgs, location="query")
@blp.response(200, OfficerOut(many=True))
@blp.doc(security=BEARER)
def list_officers(args: dict[str, Any]) -> list[dict[str, Any]]:
    """The roster, optionally filtered by street, kind or department."""
    return queries.officers(context(), **args)


@blp.route("/officers/<officer_id>", methods=["GET"])
@require("admin")
@blp.response(200, OfficerOut)
@blp.doc(security=BEARER)
def get_officer(officer_id: str) -> dict[str, Any]:
    """One officer with their current load."""
    return queries.officer(context(), officer_id)


@blp.route("/officers", methods=["POST"])
@require("admin")
@blp.arguments(OfficerIn)
@blp.response(201, OfficerOut)
@blp.doc(security=BEARER)
def create_officer(body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Add an officer (on duty, no open demands)."""
    out = commands.create_officer(context(), body, **_who())
    return out, 201, {"Location": url_for("officers.get_officer", officer_id=out["id"])}


@blp.route("/officers/<officer_id>", methods=["PATCH"])
@require("admin")
@blp.arguments(OfficerPatch(partial=True))
@blp.response(200, OfficerOut)
@blp.doc(security=BEARER)
def update_officer(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Change any of an officer's fields; the result is validated as a whole."""
    return commands.update_officer(context(), officer_id, body, **_who())


def _duty_switch(on_duty: bool, summary: str) -> None:
    """``POST /officers/<id>/on-duty`` and ``/off-duty``: the admin's switch, one view each."""

    def view(officer_id: str) -> dict[str, Any]:
        return commands.set_on_duty(context(), officer_id, on_duty, **_who())

    view.__name__ = "put_on_duty" if on_duty else "take_off_duty"
    view.__doc__ = summary
    rule = f"/officers/<officer_id>/{'on' if on_duty else 'off'}-duty"
    blp.route(rule, methods=["POST"])(require("admin")(blp.response(200, OfficerOut)(blp.doc(security=BEARER)(view))))


_duty_switch(False, "Stop giving the officer demands (leave, sickness); what they hold stays theirs.")
_duty_switch(True, "Give the officer demands again (within their duty hours, for street commissioners).")


@blp.route("/officers/<officer_id>/capacity", methods=["PUT"])
@require("admin")
@blp.arguments(CapacityIn)
@blp.response(200, OfficerOut)
@blp.doc(security=BEARER)
def set_capacity(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Change how many open demands the officer may hold. Lowering it below their load takes nothing away;
    they just get no more until they are under it."""
    return commands.set_capacity(context(), officer_id, body["capacity"], **_who())


@blp.route("/officers/<officer_id>/leave", methods=["PUT"])
@require("admin")
@blp.arguments(LeaveIn)
@blp.response(200, OfficerOut)
@blp.doc(security=BEARER)
def set_leave(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Put the officer on leave from ``from`` to ``until`` (Asia/Shanghai dates, both inclusive; at most 366 days):
    on those days routing gives them nothing, as if off duty; the leave starts and ends by itself. What they hold
    stays theirs until reassigned (``POST .../reassign``)."""
    return commands.set_leave(context(), officer_id, body["leave_from"], body["leave_until"], **_who())


@blp.route("/officers/<officer_id>/leave", methods=["DELETE"])
@require("admin")
@blp.response(200, OfficerOut)
@blp.doc(security=BEARER)
def cancel_leave(officer_id: str) -> dict[str, Any]:
    """Cancel the officer's leave (past, current or planned)."""
    return commands.set_leave(context(), officer_id, None, None, **_who())


@blp.route("/officers/<officer_id>/reassign", methods=["POST"])
@require("admin", "supervisor")
@blp.arguments(ReassignIn)
@blp.response(200, ReassignOut)
@blp.doc(security=BEARER)
def reassign(body: dict[str, Any], officer_id: str) -> dict[str, Any]:
    """Move the officer's open demands on (leave, departure): the routing rules choose without them, or
    ``to_officer`` takes them all. An admin moves every street's; a supervisor the demands of their own street,
    for an officer serving it. Each move is a ``transferred`` event (clocks do not restart); demands nobody
    else can take now stay and are listed."""
    return commands.reassign(context(), officer_id, body, current_principal())
