"""The officer's actions on a demand: authorise, check the transition, apply it and emit its event, in one
transaction. A refusal raises :class:`Refused` before anything is committed, so it changes nothing.

Lock order is the one of :mod:`routing_service.dispatch`: the officer rows the action changes first (in id
order), then the assignment row, re-read under its lock and checked again — a demand that changed hands in
between is refused with 409 rather than acted on from a stale read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from routing_service import metrics
from routing_service.dispatch import (
    ROUTING_ACTOR,
    emit_assigned,
    give,
    lock_officers,
    release,
    roster_snapshot,
)
from routing_service.model import Assignment, Officer, Transfer
from routing_service.policy import (
    RULE_SUPERVISOR_ASSIGNMENT,
    RULE_TRANSFER,
    department_specialists,
    escalation_target,
    pick_specialist,
)
from routing_service.roster import officer_state
from routing_service.sla_projection import refresh_due
from routing_service.states import (
    EVENT_TYPES,
    OPEN_STATES,
    REOPEN,
    UNASSIGNED,
    InvalidTransition,
    next_state,
)
from shared.auth import Principal
from shared.contracts.events import new_event
from shared.messaging.outbox import emit


class Refused(Exception):
    """An action that may not happen: HTTP status, message and problems by field."""

    def __init__(self, status: int, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}


def may_act(principal: Principal, a: Assignment) -> bool:
    """The demand's holder, or a supervisor of its street."""
    if principal.role == "supervisor" and principal.street == a.street:
        return True
    return a.officer_id is not None and principal.subject == a.officer_id


def _check(principal: Principal, a: Assignment, action: str) -> None:
    if not may_act(principal, a):
        holder = "nobody (it is in the street's unassigned queue)" if a.officer_id is None else "another officer"
        raise Refused(403, f"only the holder of the demand or a supervisor of {a.street} may {action} it; "
                           f"it is held by {holder}")
    try:
        next_state(a.state, action)
    except InvalidTransition as exc:
        raise Refused(409, str(exc)) from None
    if action == "escalate" and a.escalated:
        raise Refused(409, str(InvalidTransition(a.state, action, " and already escalated")))


def _officers_to_lock(session: Session, a: Assignment, action: str, body: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    changes_load = action in ("transfer", "resolve") or (action == "feedback" and body["satisfaction"] == "unsatisfied")
    if changes_load and a.officer_id:
        ids.add(a.officer_id)
    if action == "transfer":
        if body.get("to_officer"):
            ids.add(body["to_officer"])
        else:
            ids |= {o.id for o in department_specialists(body["to_department"], roster_snapshot(session).values())}
    return ids


def perform(session: Session, demand_id: str, action: str, body: dict[str, Any], principal: Principal,
            now: datetime) -> Assignment:
    """Apply ``action`` to the demand for ``principal``; raises Refused (and the caller rolls back)."""
    a = session.get(Assignment, demand_id)
    if a is None:
        raise Refused(404, f"demand {demand_id} has not reached routing")
    _check(principal, a, action)
    holder = a.officer_id
    officers = lock_officers(session, _officers_to_lock(session, a, action, body))
    a = session.scalars(select(Assignment).where(Assignment.demand_id == demand_id).with_for_update()
                        .execution_options(populate_existing=True)).one()
    if a.officer_id != holder:
        raise Refused(409, "the demand changed hands while you acted; reload it and try again")
    _check(principal, a, action)
    _APPLY[action](session, a, body, principal, officers, now)
    a.updated_at = now
    a.is_open = a.state in OPEN_STATES
    refresh_due(a)
    metrics.ACTIONS.labels(action, "done").inc()
    return a


def _emit(session: Session, action: str, a: Assignment, actor_id: str, now: datetime, **extra: Any) -> None:
    emit(session, new_event(EVENT_TYPES[action], {
        "demand_id": a.demand_id, "street": a.street, "actor_id": actor_id, "at": now, **extra,
    }, source="/routing"))


def _simple(session: Session, a: Assignment, action: str, principal: Principal, now: datetime,
            **extra: Any) -> None:
    a.state = next_state(a.state, action)
    _emit(session, action, a, principal.subject, now, **extra)


def _acknowledge(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
                 officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "acknowledge", principal, now)


def _request_materials(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
                       officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "request-materials", principal, now, note=body["note"])


def _materials_received(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
                        officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "materials-received", principal, now)


def _transfer(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
              officers: dict[str, Officer], now: datetime) -> None:
    """To a named officer or to a department's least loaded specialist; from the unassigned queue it is the
    supervisor assigning the demand, announced as ``assigned`` (rule ``supervisor_assignment``)."""
    if body.get("to_officer"):
        target = officers.get(body["to_officer"])
        if target is None:
            raise Refused(422, "no such officer", {"to_officer": [f"no officer {body['to_officer']!r} in the roster"]})
        seq = 0
    else:
        others = {i: officer_state(o) for i, o in officers.items() if i != a.officer_id}
        decision = pick_specialist(body["to_department"], others)
        if decision is None:
            raise Refused(409, f"no specialist of {body['to_department']} is on duty with room for another demand")
        target, seq = officers[decision.officer_id], decision.seq
    if target.id == a.officer_id:
        raise Refused(422, "the demand is already theirs", {"to_officer": [f"{target.id} already holds the demand"]})
    if not target.on_duty:
        raise Refused(409, f"officer {target.id} is off duty")
    if target.open_count >= target.capacity:
        raise Refused(409, f"officer {target.id} is at capacity ({target.open_count}/{target.capacity})")
    from_unassigned = a.state == UNASSIGNED
    previous = a.officer_id
    a.state = next_state(a.state, "transfer")
    release(officers.get(previous) if previous else None)
    give(a, target, RULE_SUPERVISOR_ASSIGNMENT if from_unassigned else RULE_TRANSFER, now, seq)
    session.add(Transfer(demand_id=a.demand_id, from_officer_id=previous, to_officer_id=target.id,
                         to_department=body.get("to_department"), reason=body["reason"], rule=a.rule,
                         actor_id=principal.subject, at=now))
    if from_unassigned:
        emit_assigned(session, a, principal.subject, now)
    else:
        _emit(session, "transfer", a, principal.subject, now, from_officer_id=previous, to_officer_id=target.id,
              to_department=body.get("to_department"), reason=body["reason"])


def _resolve(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
             officers: dict[str, Officer], now: datetime) -> None:
    a.outcome, a.resolution_note = body["outcome"], body["note"]
    release(officers.get(a.officer_id))
    _simple(session, a, "resolve", principal, now, outcome=body["outcome"], note=body["note"])


def _escalate(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
              officers: dict[str, Officer], now: datetime) -> None:
    escalate(session, a, principal.subject, body["reason"], now, automatic=False)


def escalate(session: Session, a: Assignment, actor_id: str, reason: str, now: datetime, automatic: bool) -> None:
    """Flag the demand for the street supervisor's attention (it stays with its holder)."""
    a.escalated = True
    a.escalated_to = escalation_target(a.street, roster_snapshot(session))
    if automatic:
        a.auto_escalated = True
    _emit(session, "escalate", a, actor_id, now, to_officer_id=a.escalated_to, reason=reason, automatic=automatic)


def escalate_on_breach(session: Session, a: Assignment, now: datetime) -> bool:
    """Escalate automatically, once, when the resolution clock breached on an open demand; True if it did.

    A demand a person already escalated is not escalated again: the supervisor has it already.
    """
    breached = (a.sla or {}).get("resolution", {}).get("status") == "breached"
    if not breached or a.auto_escalated or not a.is_open:
        return False
    if a.escalated:
        a.auto_escalated = True
        return False
    escalate(session, a, ROUTING_ACTOR, "the resolution deadline was breached", now, automatic=True)
    a.updated_at = now
    metrics.AUTO_ESCALATIONS.labels(a.street).inc()
    return True


def _feedback(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
              officers: dict[str, Officer], now: datetime) -> None:
    """Record the enterprise's satisfaction; unsatisfied reopens the demand to the same officer.

    The reopened demand counts against its holder's capacity again even if that takes them over it: the
    work is theirs by rule and cannot be refused — the one way an officer's load may exceed capacity.
    """
    a.satisfaction = body["satisfaction"]
    _simple(session, a, "feedback", principal, now, satisfaction=body["satisfaction"])
    if body["satisfaction"] == "unsatisfied":
        a.state = next_state(a.state, REOPEN)
        a.reopen_count += 1
        a.outcome = None
        holder = officers.get(a.officer_id)
        if holder is not None:
            holder.open_count += 1
        _emit(session, REOPEN, a, principal.subject, now, reason="the enterprise was not satisfied")


def _close(session: Session, a: Assignment, body: dict[str, Any], principal: Principal,
           officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "close", principal, now, outcome=a.outcome)


_APPLY = {
    "acknowledge": _acknowledge,
    "request-materials": _request_materials,
    "materials-received": _materials_received,
    "transfer": _transfer,
    "resolve": _resolve,
    "escalate": _escalate,
    "feedback": _feedback,
    "close": _close,
}
