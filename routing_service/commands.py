"""Routing's write use cases: route a submitted demand, follow its SLA clocks, offer freed capacity to the
unassigned queues, and the officers' and admins' actions.

The worker's use cases take the consumer's session and return the events they announced (built and written
to the outbox by :mod:`routing_service.announce`), so an event crosses each floor once: handler, one command,
the rows and the rules, and back. The web's use cases open their own transaction. A "no" is a
:class:`RoutingRefused` raised before anything is committed, so it changes nothing; turning it into a status
code or a page message is the http layer's business.

Lock order is the one of :mod:`routing_service.repository`: the officer rows an action changes first (in id
order), then the assignment row, re-read under its lock and checked again — a demand that changed hands in
between is refused rather than acted on from a stale read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import Session

from routing_service import announce, metrics, queries
from routing_service.domain import RoutingRefused
from routing_service.domain.alerts import one_per_alert
from routing_service.domain.policy import (
    MIN_EXTENSION_DAYS,
    REASON_OFFICER_UNAVAILABLE,
    REASON_REPEATED_RETURN,
    ROUTING_ACTOR,
    RULE_REASSIGNMENT,
    RULE_RETURNED,
    RULE_SUPERVISOR_ASSIGNMENT,
    RULE_TRANSFER,
    decide,
    department_specialists,
    escalation_target,
    extension_cap_days,
    may_act,
    needs_review,
    pick_specialist,
    reassignable_streets,
    relevant_officer_ids,
    street_supervisors,
    transfer_targets,
)
from routing_service.domain.states import (
    ASSIGNED,
    HELD_OPEN_STATES,
    OPEN_STATES,
    REOPEN,
    RESOLVE_FOR_REVIEW,
    UNASSIGNED,
    InvalidTransition,
    next_state,
)
from routing_service.model import Alert, Assignment, Officer, ReadMark, Transfer
from routing_service.reference import lifecycle_policy, normalise, officer_problems
from routing_service.repository import (
    apply_roster_entry,
    facts,
    held_by,
    holder_of,
    lock_assignment,
    lock_held,
    lock_officer,
    lock_officers,
    lock_still_waiting,
    new_officer,
    officer_state,
    open_assignment,
    record_clock,
    refresh_due,
    roster_entry,
    roster_snapshot,
    streets_served,
    waiting,
)
from shared.audit import Journal, changes
from shared.auth import Principal
from shared.contracts.events import CloudEvent
from shared.db import insert_on_conflict, unit_of_work
from shared.instants import instant_text

if TYPE_CHECKING:
    from routing_service.bootstrap import Context


# --- the worker's use cases ----------------------------------------------------------------------------


def route_demand(ctx: Context, session: Session, data: dict[str, Any]) -> list[CloudEvent]:
    """Give a submitted demand to the officer the rules pick (or to its street's unassigned queue) and
    announce it; escalate it at once when a breach of its resolution clock arrived before the demand did.
    Nothing when the demand was routed already (a second delivery)."""
    now = datetime.now(UTC)
    desk = open_assignment(session, data, ctx.relevance, now)
    if desk is None:
        return []
    a = desk.assignment
    decision = decide(desk.facts, desk.states, now)
    if decision.officer_id:
        _give(a, desk.officers[decision.officer_id], decision.rule, now, decision.seq)
    else:
        metrics.UNASSIGNED.labels(a.street, a.channel, a.category).inc()
    return announce.assigned(session, a, ROUTING_ACTOR, now) + _escalate_on_breach(session, a, now)


def follow_clock(ctx: Context, session: Session, data: dict[str, Any]) -> list[CloudEvent]:
    """Keep sla's latest word on a clock (it orders the queues); a resolution breach escalates the demand."""
    a = record_clock(session, data)
    return _escalate_on_breach(session, a, datetime.now(UTC)) if a is not None else []


def refill(ctx: Context, session: Session, officer_id: str | None) -> list[CloudEvent]:
    """Capacity was freed: offer the unassigned queues of the streets the officer serves."""
    streets = streets_served(session, officer_id)
    if streets is None or streets:
        return retry_unassigned(ctx, session, streets)
    return []


def refill_after_resolve(ctx: Context, session: Session, demand_id: str) -> list[CloudEvent]:
    """A resolved demand freed its holder's capacity: offer it to the queues they serve."""
    return refill(ctx, session, holder_of(session, demand_id))


def retry_unassigned(ctx: Context, session: Session, streets: set[str] | None = None,
                     limit: int = 100) -> list[CloudEvent]:
    """Route waiting demands (most urgent first) that someone can now take; returns their ``assigned`` events.

    A dry run on the unlocked roster skips the locks when nobody has room, which is the common case.
    """
    now = datetime.now(UTC)
    demands = waiting(session, streets, limit)
    if not demands:
        return []
    snapshot = roster_snapshot(session)
    promising = [a for a in demands if decide(facts(a), snapshot, now).officer_id]
    if not promising:
        return []
    locked = lock_officers(session, {i for a in promising for i in relevant_officer_ids(facts(a), snapshot)})
    states = {i: officer_state(o) for i, o in locked.items()}
    still_waiting = lock_still_waiting(session, (a.demand_id for a in promising))
    announced: list[CloudEvent] = []
    for demand in demands:  # urgency order
        a = still_waiting.get(demand.demand_id)
        if a is None:
            continue
        decision = decide(facts(a), states, now)
        if not decision.officer_id:
            continue
        officer = locked[decision.officer_id]
        _give(a, officer, decision.rule, now, decision.seq)
        states[officer.id] = officer_state(officer)
        announced += announce.assigned(session, a, ROUTING_ACTOR, now)
    return announced


def _give(a: Assignment, officer: Officer, rule: str, now: datetime, seq: int = 0) -> None:
    """Make ``officer`` the demand's holder (the caller holds the officer's row lock)."""
    a.officer_id, a.officer_kind, a.department = officer.id, officer.kind, officer.department
    a.rule, a.assigned_at, a.updated_at = rule, now, now
    if a.state == UNASSIGNED:
        a.state = ASSIGNED
    officer.open_count += 1
    if seq:
        officer.last_assigned_seq = seq


def _release(officer: Officer | None) -> None:
    """The holder no longer counts this demand against their capacity (the caller holds the row lock)."""
    if officer is not None:
        officer.open_count = max(0, officer.open_count - 1)


def _escalate(session: Session, a: Assignment, actor_id: str, reason: str, now: datetime,
              automatic: bool) -> list[CloudEvent]:
    """Flag the demand for the street supervisor's attention (it stays with its holder)."""
    a.escalated = True
    a.escalated_to = escalation_target(a.street, roster_snapshot(session))
    if automatic:
        a.auto_escalated = True
    return announce.action(session, "escalate", a, actor_id, now, to_officer_id=a.escalated_to, reason=reason,
                           automatic=automatic)


def _escalate_on_breach(session: Session, a: Assignment, now: datetime) -> list[CloudEvent]:
    """Escalate automatically, once, when the resolution clock breached on an open demand.

    A demand a person already escalated is not escalated again: the supervisor has it already.
    """
    breached = (a.sla or {}).get("resolution", {}).get("status") == "breached"
    if not breached or a.auto_escalated or not a.is_open:
        return []
    if a.escalated:
        a.auto_escalated = True
        return []
    announced = _escalate(session, a, ROUTING_ACTOR, "the resolution deadline was breached", now, automatic=True)
    a.updated_at = now
    metrics.AUTO_ESCALATIONS.labels(a.street).inc()
    return announced


# --- the officers' actions -----------------------------------------------------------------------------


def act(ctx: Context, demand_id: str, action: str, body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """Perform one state-machine transition for ``principal``; returns the demand's view after it (the API
    and the officer's page share it). A refusal is counted and raised; nothing is written then."""
    try:
        with unit_of_work(ctx.sessions) as session:
            a = _perform(ctx, session, demand_id, action, body, principal, datetime.now(UTC))
            session.flush()
            return queries.assignment_view(session, a)
    except RoutingRefused:
        metrics.ACTIONS.labels(action, "refused").inc()
        raise


def _perform(ctx: Context, session: Session, demand_id: str, action: str, body: dict[str, Any],
             principal: Principal, now: datetime) -> Assignment:
    a = session.get(Assignment, demand_id)
    if a is None:
        raise RoutingRefused("not_found", f"demand {demand_id} has not reached routing")
    _check(principal, a, action)
    holder = a.officer_id
    officers = lock_officers(session, _officers_to_lock(session, a, action, body))
    a = lock_assignment(session, demand_id)
    if a.officer_id != holder:
        raise RoutingRefused("conflict", "the demand changed hands while you acted; reload it and try again")
    _check(principal, a, action)
    _APPLY[action](ctx, session, a, body, principal, officers, now)
    a.updated_at = now
    a.is_open = a.state in OPEN_STATES
    refresh_due(a)
    metrics.ACTIONS.labels(action, "done").inc()
    return a


# Who may, for the actions whose answer is not "the holder or a supervisor of the street".
_FORBIDDEN = {
    "withdraw": "a demand is withdrawn by whoever speaks for the enterprise (a grid worker of {street}, a hotline "
                "or help-desk agent, the enterprise itself), never by an officer",
    "approve-extension": "only a supervisor of {street} approves an extension",
    "refuse-extension": "only a supervisor of {street} refuses an extension",
    "reject": "only a supervisor of {street} rejects a demand",
    "approve-resolution": "a resolution is reviewed by a supervisor of {street} or an admin, never by its holder",
    "send-back": "a resolution is reviewed by a supervisor of {street} or an admin, never by its holder",
    "return": "only the officer holding the demand returns it",
}


def _check(principal: Principal, a: Assignment, action: str) -> None:
    if action == "feedback" and not may_act(principal, a, action):
        raise RoutingRefused("forbidden", f"the enterprise's satisfaction is recorded by whoever speaks for it (a "
                                          f"grid worker of {a.street}, a hotline or help-desk agent), never by "
                                          f"the officer holding the demand")
    if action in _FORBIDDEN and not may_act(principal, a, action):
        raise RoutingRefused("forbidden", _FORBIDDEN[action].format(street=a.street))
    if not may_act(principal, a, action):
        holder = "nobody (it is in the street's unassigned queue)" if a.officer_id is None else "another officer"
        raise RoutingRefused("forbidden", f"only the holder of the demand or a supervisor of {a.street} may "
                                          f"{action} it; it is held by {holder}")
    try:
        next_state(a.state, action)
    except InvalidTransition as exc:
        raise RoutingRefused("conflict", str(exc)) from None
    if action == "escalate" and a.escalated:
        raise RoutingRefused("conflict", str(InvalidTransition(a.state, action, " and already escalated")))


_FREES_THE_HOLDER = frozenset({"withdraw", "reject", "merge"})


def _officers_to_lock(session: Session, a: Assignment, action: str, body: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    changes_load = (action in ("transfer", "resolve", "return", "send-back")
                    or (action == "feedback" and body["satisfaction"] == "unsatisfied")
                    or (action in _FREES_THE_HOLDER and a.state in HELD_OPEN_STATES))
    if changes_load and a.officer_id:
        ids.add(a.officer_id)
    if action == "return":  # whoever the rules could pick next, and the street's supervisors
        snapshot = roster_snapshot(session)
        ids |= set(relevant_officer_ids(facts(a), snapshot))
        ids |= {o.id for o in street_supervisors(a.street, snapshot.values())}
    if action == "transfer":
        if body.get("to_officer"):
            ids.add(body["to_officer"])
        else:
            ids |= {o.id for o in department_specialists(body["to_department"], roster_snapshot(session).values())}
    return ids


def _simple(session: Session, a: Assignment, action: str, principal: Principal, now: datetime,
            **extra: Any) -> None:
    a.state = next_state(a.state, action)
    announce.action(session, action, a, principal.subject, now, **extra)


def _acknowledge(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                 principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "acknowledge", principal, now)


def _request_materials(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                       principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "request-materials", principal, now, note=body["note"])


def _materials_received(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                        principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "materials-received", principal, now)


def _transfer(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
              principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """To a named officer or to a department's least loaded specialist; from the unassigned queue it is the
    supervisor assigning the demand, announced as ``assigned`` (rule ``supervisor_assignment``)."""
    if body.get("to_officer"):
        target = officers.get(body["to_officer"])
        if target is None:
            raise RoutingRefused("invalid", "no such officer",
                                 {"to_officer": [f"no officer {body['to_officer']!r} in the roster"]})
        seq = 0
    else:
        others = {i: officer_state(o) for i, o in officers.items() if i != a.officer_id}
        decision = pick_specialist(body["to_department"], others)
        if decision is None:
            raise RoutingRefused("conflict", f"no specialist of {body['to_department']} is on duty with room for "
                                             f"another demand")
        target, seq = officers[decision.officer_id], decision.seq
    if target.id == a.officer_id:
        raise RoutingRefused("invalid", "the demand is already theirs",
                             {"to_officer": [f"{target.id} already holds the demand"]})
    if not transfer_targets(a.street, a.officer_id, [officer_state(target)]):
        raise RoutingRefused("invalid", "not someone this demand may be transferred to", {"to_officer": [
            f"{target.id} may not take a demand of {a.street}: transfer to an officer or the supervisor of "
            f"{a.street}, or to a department specialist"]})
    if not officer_state(target).on_duty:  # the switch, or on leave today
        raise RoutingRefused("conflict", f"officer {target.id} is off duty or on leave")
    if target.open_count >= target.capacity:
        raise RoutingRefused("conflict", f"officer {target.id} is at capacity ({target.open_count}/{target.capacity})")
    from_unassigned = a.state == UNASSIGNED
    previous = a.officer_id
    a.state = next_state(a.state, "transfer")
    _release(officers.get(previous) if previous else None)
    _give(a, target, RULE_SUPERVISOR_ASSIGNMENT if from_unassigned else RULE_TRANSFER, now, seq)
    session.add(Transfer(demand_id=a.demand_id, from_officer_id=previous, to_officer_id=target.id,
                         to_department=body.get("to_department"), reason=body["reason"], rule=a.rule,
                         actor_id=principal.subject, at=now))
    if from_unassigned:
        announce.assigned(session, a, principal.subject, now)
    else:
        announce.action(session, "transfer", a, principal.subject, now, from_officer_id=previous,
                        to_officer_id=target.id, to_department=body.get("to_department"), reason=body["reason"],
                        to_officer_kind=target.kind, to_officer_department=target.department)


def _resolve(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
             principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """Resolve; when the review policy says so, the resolution waits for the supervisor (under_review) and
    its ``resolved`` event says ``review: true``. The holder's capacity is freed either way."""
    a.outcome, a.resolution_note = body["outcome"], body["note"]
    _release(officers.get(a.officer_id))
    share = lifecycle_policy(ctx.settings).review_sample_share
    review = needs_review(a.demand_id, body["outcome"], a.key_enterprise, share)
    _simple(session, a, RESOLVE_FOR_REVIEW if review else "resolve", principal, now, outcome=body["outcome"],
            note=body["note"], review=review)


def _escalate_by_hand(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                      principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _escalate(session, a, principal.subject, body["reason"], now, automatic=False)


def _feedback(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
              principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """Record the enterprise's satisfaction; unsatisfied reopens the demand to the same officer.

    The reopened demand counts against its holder's capacity again even if that takes them over it: the
    work is theirs by rule and cannot be refused — the one way an officer's load may exceed capacity.
    """
    a.satisfaction = body["satisfaction"]
    _simple(session, a, "feedback", principal, now, satisfaction=body["satisfaction"], comment=body.get("comment"))
    if body["satisfaction"] == "unsatisfied":
        a.state = next_state(a.state, REOPEN)
        a.reopen_count += 1
        a.outcome = None
        holder = officers.get(a.officer_id)
        if holder is not None:
            holder.open_count += 1
        announce.action(session, REOPEN, a, principal.subject, now, reason="the enterprise was not satisfied")


def _close(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
           principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "close", principal, now, outcome=a.outcome)


# --- the further lifecycle (issue 15) -------------------------------------------------------------------


def _request_extension(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                       principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """Ask for more working days; one request waits at a time, within the policy's cap."""
    policy = lifecycle_policy(ctx.settings)
    if a.extension_request:
        raise RoutingRefused("conflict", f"an extension of {a.extension_request['working_days']:g} working days "
                                         f"is already waiting for the supervisor")
    if (a.extension_count or 0) >= policy.max_extensions:
        raise RoutingRefused("conflict", f"the demand had {a.extension_count or 0} of the "
                                         f"{policy.max_extensions} extension(s) the policy allows")
    cap = extension_cap_days(policy, a.complexity)
    if not MIN_EXTENSION_DAYS <= body["working_days"] <= cap:
        raise RoutingRefused("invalid", "too long an extension", {"working_days": [
            f"at most {cap:g} working days for a {a.complexity} demand"]})
    a.extension_request = {"working_days": body["working_days"], "reason": body["reason"],
                           "actor_id": principal.subject, "at": instant_text(now)}
    _simple(session, a, "request-extension", principal, now, working_days=body["working_days"],
            reason=body["reason"])


def _pending_extension(a: Assignment, action: str) -> dict[str, Any]:
    if not a.extension_request:
        raise RoutingRefused("conflict", str(InvalidTransition(a.state, action, " and no extension is waiting")))
    return dict(a.extension_request)


def _approve_extension(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                       principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """The supervisor grants the request: sla moves the resolution target by ``business_seconds``."""
    request = _pending_extension(a, "approve-extension")
    days = float(request["working_days"])
    a.extension_request, a.extension_count = None, (a.extension_count or 0) + 1
    seconds = round(days * lifecycle_policy(ctx.settings).seconds_per_working_day)
    _simple(session, a, "approve-extension", principal, now, working_days=days, business_seconds=seconds,
            reason=body.get("reason") or "")


def _refuse_extension(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                      principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _pending_extension(a, "refuse-extension")
    a.extension_request = None
    _simple(session, a, "refuse-extension", principal, now, reason=body["reason"])


def _return(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
            principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """The holder says "not mine": routing decides again without anyone who returned it before. The second
    return (or nobody else eligible) goes to the street's supervisor, escalated. Clocks keep running."""
    previous = a.officer_id
    returned = [*(a.returned_by or []), previous]
    states = {i: officer_state(o) for i, o in officers.items()}
    decision = decide(facts(a), states, now, exclude=returned) if len(returned) < 2 else None
    escalation = None
    if decision is not None and decision.officer_id:
        target, seq = officers[decision.officer_id], decision.seq
    else:
        escalation = REASON_REPEATED_RETURN if len(returned) >= 2 else "no_eligible_officer"
        others = {i: st for i, st in states.items() if i not in returned}
        supervisor = escalation_target(a.street, others)
        if supervisor is None:
            raise RoutingRefused("conflict", f"nobody else can take the demand: {a.street} has no other supervisor")
        target, seq = officers[supervisor], 0
    a.returned_by = returned
    a.state = next_state(a.state, "return")
    announce.action(session, "return", a, principal.subject, now, from_officer_id=previous,
                    reason_code=body["reason_code"], note=body["note"], returns=len(returned))
    _release(officers.get(previous))
    _give(a, target, RULE_RETURNED, now, seq)
    session.add(Transfer(demand_id=a.demand_id, from_officer_id=previous, to_officer_id=target.id,
                         reason=f"{body['reason_code']}: {body['note']}" if body["note"] else body["reason_code"],
                         rule=RULE_RETURNED, actor_id=principal.subject, at=now))
    announce.assigned(session, a, principal.subject, now)
    if escalation:
        a.escalated, a.escalated_to = True, target.id
        announce.action(session, "escalate", a, ROUTING_ACTOR, now, to_officer_id=target.id, reason=escalation,
                        automatic=True)


def _approve_resolution(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
                        principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _simple(session, a, "approve-resolution", principal, now, note=body["note"])


def _send_back(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
               principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """The reviewer does not accept the resolution: open again with the same holder, counted on their load
    again even over capacity (as a reopening: the work is theirs)."""
    a.outcome = None
    holder = officers.get(a.officer_id)
    if holder is not None:
        holder.open_count += 1
    _simple(session, a, "send-back", principal, now, reason=body["reason"])


def _ending(session: Session, a: Assignment, action: str, principal: Principal, officers: dict[str, Officer],
            now: datetime, **extra: Any) -> None:
    """A final state other than closed: the holder's capacity is freed if the demand still counted on it."""
    if a.state in HELD_OPEN_STATES:
        _release(officers.get(a.officer_id))
    _simple(session, a, action, principal, now, **extra)


def _withdraw(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
              principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _ending(session, a, "withdraw", principal, officers, now, reason=body["reason"])


def _reject(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
            principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    _ending(session, a, "reject", principal, officers, now, reason_code=body["reason_code"], note=body["note"])


def _merge(ctx: Context, session: Session, a: Assignment, body: dict[str, Any],
           principal: Principal, officers: dict[str, Officer], now: datetime) -> None:
    """Close a duplicate into the demand that survives: open, in routing, another one, the same enterprise."""
    into = body["into"]
    survivor = session.get(Assignment, into) if into != a.demand_id else None
    problem = ("a demand cannot be merged into itself" if into == a.demand_id
               else f"demand {into!r} has not reached routing" if survivor is None
               else f"{into} is {survivor.state}: merge into an open demand" if not survivor.is_open
               else "the two demands are of different enterprises"
               if survivor.enterprise_uscc != a.enterprise_uscc else None)
    if problem:
        raise RoutingRefused("invalid", "not a demand this one can be merged into", {"into": [problem]})
    a.merged_into = into
    _ending(session, a, "merge", principal, officers, now, into=into)


_APPLY = {
    "acknowledge": _acknowledge,
    "request-materials": _request_materials,
    "materials-received": _materials_received,
    "transfer": _transfer,
    "resolve": _resolve,
    "escalate": _escalate_by_hand,
    "feedback": _feedback,
    "close": _close,
    "request-extension": _request_extension,
    "approve-extension": _approve_extension,
    "refuse-extension": _refuse_extension,
    "return": _return,
    "approve-resolution": _approve_resolution,
    "send-back": _send_back,
    "withdraw": _withdraw,
    "reject": _reject,
    "merge": _merge,
}


# --- bulk reassignment (leave, departure) ------------------------------------------------------------


def reassign(ctx: Context, officer_id: str, body: dict[str, Any], principal: Principal) -> dict[str, Any]:
    """Move the open demands ``officer_id`` holds to whoever the rules pick without them (or to
    ``to_officer``): an admin for every street, a supervisor for their street's demands. Each move is a
    ``transferred`` event (reason ``officer_unavailable``, rule ``reassignment``); clocks do not restart.
    Demands nobody else can take now stay where they are and are listed."""
    now = datetime.now(UTC)
    with unit_of_work(ctx.sessions) as session:
        snapshot = roster_snapshot(session)
        if officer_id not in snapshot:
            raise RoutingRefused("not_found", f"no officer {officer_id!r} in the roster")
        streets = reassignable_streets(principal, snapshot[officer_id])
        if streets is not None and not streets:
            raise RoutingRefused("forbidden", f"only an admin, or a supervisor of a street {officer_id} serves, "
                                              f"reassigns their demands")
        override = body.get("to_officer")
        if override is not None and override not in snapshot:
            raise RoutingRefused("invalid", "no such officer",
                                 {"to_officer": [f"no officer {override!r} in the roster"]})
        if override == officer_id:
            raise RoutingRefused("invalid", "the demands are theirs already",
                                 {"to_officer": [f"{officer_id} is the officer being relieved"]})
        held = held_by(session, officer_id, streets)
        candidates = {override} if override else {i for a in held for i in relevant_officer_ids(facts(a), snapshot)}
        officers = lock_officers(session, {officer_id, *candidates})
        states = {i: officer_state(o) for i, o in officers.items()}
        moved: list[dict[str, Any]] = []
        stayed: list[str] = []
        for a in lock_held(session, officer_id, [a.demand_id for a in held]):
            target, seq = _reassignment_target(a, officer_id, override, states, now)
            if target is None:
                stayed.append(a.demand_id)
                continue
            officer = officers[target]
            _release(officers[officer_id])
            _give(a, officer, RULE_REASSIGNMENT, now, seq)
            states[target], states[officer_id] = officer_state(officer), officer_state(officers[officer_id])
            session.add(Transfer(demand_id=a.demand_id, from_officer_id=officer_id, to_officer_id=target,
                                 reason=REASON_OFFICER_UNAVAILABLE, rule=RULE_REASSIGNMENT,
                                 actor_id=principal.subject, at=now))
            announce.action(session, "transfer", a, principal.subject, now, from_officer_id=officer_id,
                            to_officer_id=target, to_department=None, reason=REASON_OFFICER_UNAVAILABLE,
                            reason_code=REASON_OFFICER_UNAVAILABLE, rule=RULE_REASSIGNMENT,
                            to_officer_kind=officer.kind, to_officer_department=officer.department)
            moved.append({"demand_id": a.demand_id, "from_officer_id": officer_id, "to_officer_id": target,
                          "rule": RULE_REASSIGNMENT})
        metrics.ACTIONS.labels("reassign", "done").inc()
        return {"moved": len(moved), "items": moved, "stayed": stayed}


def _reassignment_target(a: Assignment, officer_id: str, override: str | None, states: dict[str, Any],
                         now: datetime) -> tuple[str | None, int]:
    """Who takes one demand off ``officer_id``: the override if it may take it and has room, else the rules."""
    if override:
        target = states.get(override)
        fits = target is not None and target.has_room and transfer_targets(a.street, officer_id, [target])
        return (override, 0) if fits else (None, 0)
    decision = decide(facts(a), states, now, exclude={officer_id})
    return decision.officer_id, decision.seq


# --- the roster (admins) -------------------------------------------------------------------------------
# Every change is audited (shared.audit, in the identity store) by the command itself, so the API and the
# admin's pages cannot differ: the row is written before routing's transaction commits, so a change whose
# audit cannot be written is not made.


def _check_officer(entry: dict[str, Any]) -> None:
    problems = officer_problems(entry)
    if problems:
        raise RoutingRefused("invalid", "some fields are invalid; see errors", problems)


def _audited(officer: Officer) -> dict[str, Any]:
    """What the audit keeps of an officer: the roster fields, the duty switch and the leave (ISO dates)."""
    return {**roster_entry(officer), "on_duty": officer.on_duty,
            "leave_from": officer.leave_from.isoformat() if officer.leave_from else None,
            "leave_until": officer.leave_until.isoformat() if officer.leave_until else None}


def create_officer(ctx: Context, body: dict[str, Any], *, by: str, journal: Journal) -> dict[str, Any]:
    """Add an officer (on duty, no open demands) from the API's validated fields; returns its view."""
    _check_officer(body)
    data = normalise(body)
    with unit_of_work(ctx.sessions) as session:
        if session.get(Officer, data["id"]) is not None:
            raise RoutingRefused("conflict", f"officer {data['id']!r} exists already; PATCH it instead")
        officer = new_officer(data["id"], edited_at=datetime.now(UTC))
        apply_roster_entry(officer, data)
        session.add(officer)
        session.flush()
        journal.record(by, "officer.create", officer.id, None, _audited(officer))
        return queries.officer_view(officer)


def _edit_officer(ctx: Context, officer_id: str, change: Callable[[Officer], None], action: str, by: str,
                  journal: Journal) -> dict[str, Any]:
    """Apply ``change`` to the officer's locked row and audit it; returns the officer's view after it."""
    with unit_of_work(ctx.sessions) as session:
        officer = lock_officer(session, officer_id)
        if officer is None:
            raise RoutingRefused("not_found", f"no officer {officer_id!r} in the roster")
        before = _audited(officer)
        change(officer)
        session.flush()
        old, new = changes(before, _audited(officer))
        journal.record(by, action, officer.id, old, new)
        return queries.officer_view(officer)


def update_officer(ctx: Context, officer_id: str, body: dict[str, Any], *, by: str,
                   journal: Journal) -> dict[str, Any]:
    """Change any of an officer's fields; the result is validated as a whole, and the YAML roster no longer
    overwrites the officer."""

    def change(officer: Officer) -> None:
        _check_officer({**roster_entry(officer), **body})
        apply_roster_entry(officer, normalise(body))
        officer.edited_at = datetime.now(UTC)

    return _edit_officer(ctx, officer_id, change, "officer.update", by, journal)


def set_on_duty(ctx: Context, officer_id: str, on_duty: bool, *, by: str, journal: Journal) -> dict[str, Any]:
    """The admin's switch: off (leave, sickness) gives the officer no more demands; what they hold stays."""

    def change(officer: Officer) -> None:
        officer.on_duty = on_duty

    return _edit_officer(ctx, officer_id, change, "officer.on_duty" if on_duty else "officer.off_duty", by, journal)


def set_leave(ctx: Context, officer_id: str, leave_from: date | None, leave_until: date | None, *, by: str,
              journal: Journal) -> dict[str, Any]:
    """The officer's leave, ``leave_from``..``leave_until`` (Shanghai dates, inclusive; both None cancels it):
    on those days routing treats them as off duty, with no timer. What they hold stays theirs (the roster offers
    全部改派). Like the duty switch it is not a roster field: the YAML roster never overwrites it. Audited as
    ``officer.leave``; the caller has checked the range (the API's schema)."""

    def change(officer: Officer) -> None:
        officer.leave_from, officer.leave_until = leave_from, leave_until

    return _edit_officer(ctx, officer_id, change, "officer.leave", by, journal)


def set_capacity(ctx: Context, officer_id: str, capacity: int, *, by: str, journal: Journal) -> dict[str, Any]:
    """How many open demands the officer may hold; lowering it below their load takes nothing away."""

    def change(officer: Officer) -> None:
        officer.capacity = capacity
        officer.edited_at = datetime.now(UTC)

    return _edit_officer(ctx, officer_id, change, "officer.capacity", by, journal)


# --- alerts, read marks and warnings (issue 18) ----------------------------------------------------------


def follow_warning(ctx: Context, session: Session, data: dict[str, Any]) -> list[CloudEvent]:
    """A clock reached its warning threshold: kept like any word of sla's, and noted on the assignment
    (when, which clock) for the holder's notices; nothing else is written."""
    a = record_clock(session, data)
    if a is None:
        return []
    if a.warned_at is None or data["at"] > a.warned_at:  # the two clocks' warnings may arrive out of order
        a.warned_at, a.warned_clock = data["at"], data["kind"]
    return _escalate_on_breach(session, a, datetime.now(UTC))


def _upsert(session: Session, table: Table, rows: list[dict[str, Any]], keys: list[str], update: list[str],
            where: ColumnElement[bool] | None = None) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE, on both databases: a repeated delivery never races into a
    duplicate-key error, whichever web worker gets it."""
    statement = insert_on_conflict(session.get_bind().dialect.name, table)
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={c: statement.excluded[c] for c in update}, where=where)
    session.execute(statement, rows)


def receive_alerts(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """Store one Alertmanager delivery (a loaded ``AlertWebhookIn``): each alert is its fingerprint and
    startsAt, so a resend or retry updates the row it made; a resolved alert stays resolved."""
    now = datetime.now(UTC)
    rows = []
    for alert in one_per_alert(body["alerts"]):
        labels, notes = alert["labels"], {**body["commonAnnotations"], **alert["annotations"]}
        resolved = alert["status"] == "resolved"
        rows.append({
            "fingerprint": alert["fingerprint"], "starts_at": alert["startsAt"], "status": alert["status"],
            "alertname": labels["alertname"], "severity": labels.get("severity"), "street": labels.get("street"),
            "summary": notes.get("summary"), "description": notes.get("description"),
            "runbook": notes.get("runbook"), "page": notes.get("page"), "generator_url": alert.get("generatorURL"),
            "ends_at": (alert["endsAt"] or now) if resolved else None, "received_at": now, "updated_at": now})
    table = Alert.__table__
    with unit_of_work(ctx.sessions) as session:
        _upsert(session, table, rows, ["fingerprint", "starts_at"],
                ["status", "severity", "street", "summary", "description", "runbook", "page", "generator_url",
                 "ends_at", "updated_at"], where=table.c.status != "resolved")
    return {"alerts": len(rows)}


def mark_read(ctx: Context, subject: str, feed: str, through: datetime | None = None) -> None:
    """The user has read ``feed`` up to ``through`` (default and at most now: what comes later is unread);
    a mark never moves back."""
    now = datetime.now(UTC)
    table = ReadMark.__table__
    row = {"subject": subject, "feed": feed, "seen_through": min(through or now, now)}
    with unit_of_work(ctx.sessions) as session:
        _upsert(session, table, [row], ["subject", "feed"], ["seen_through"],
                where=table.c.seen_through < row["seen_through"])
