"""Routing's read side: who holds a demand and why, the queues most urgent first, the roster, the pages' views.

Each read opens its own short transaction and returns JSON-ready values; who may read what is decided here
too (a refusal is a :class:`RoutingRefused`), so the API and the pages cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from routing_service.domain import RoutingRefused
from routing_service.domain.policy import EVERY_STREET, Duty, may_act, transfer_targets
from routing_service.domain.states import allowed_actions
from routing_service.model import Assignment, Officer, Transfer
from routing_service.reference import DutySchema
from routing_service.repository import IS_UNASSIGNED, clock_views, roster_entry, roster_snapshot
from shared.auth import Principal
from shared.contracts.reference import STREETS
from shared.db import unit_of_work

if TYPE_CHECKING:
    from routing_service.bootstrap import Context

URGENCY = (Assignment.next_due.asc().nulls_last(), Assignment.demand_id)
QUEUE_KINDS = ("unassigned", "escalated")
_QUEUE_COLUMNS = (Assignment.demand_id, Assignment.state, Assignment.street, Assignment.channel, Assignment.category,
                  Assignment.complexity, Assignment.title, Assignment.key_enterprise, Assignment.officer_id,
                  Assignment.escalated, Assignment.reported_at, Assignment.assigned_at, Assignment.next_due,
                  Assignment.sla)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _clocks(sla: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """The projected clocks as JSON values, with the wall-clock time left computed now."""
    return [{"kind": c.kind, "status": c.status, "target_at": _iso(c.target_at), "seconds_left": c.seconds_left(now),
             "business_seconds_used": c.business_seconds_used, "business_seconds_target": c.business_seconds_target}
            for c in sorted(clock_views(sla), key=lambda c: c.kind)]


# --- one demand ------------------------------------------------------------------------------------


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
    """Admins and hotline agents (who answer "where is my demand?" for the district, as intake lets them read
    every demand); supervisors of the street; the holder, and officers who held it before (transfer history)."""
    if principal.role in ("admin", "hotline_agent") or (principal.role == "supervisor"
                                                        and principal.street == a.street):
        return True
    if principal.subject in (a.officer_id, a.escalated_to):
        return True
    held_before = select(Transfer.id).where(Transfer.demand_id == a.demand_id,
                                            or_(Transfer.from_officer_id == principal.subject,
                                                Transfer.to_officer_id == principal.subject))
    return session.execute(held_before.limit(1)).first() is not None


def assignment(ctx: Context, principal: Principal, demand_id: str) -> dict[str, Any]:
    """Who holds the demand, by which rule, its clocks as routing last heard, and its transfer history."""
    with unit_of_work(ctx.sessions) as session:
        a = session.get(Assignment, demand_id)
        if a is None:
            raise RoutingRefused("not_found", f"demand {demand_id} has not reached routing")
        if not may_read(session, principal, a):
            raise RoutingRefused("forbidden", "only admins, supervisors of the demand's street and its holders "
                                              "may read it")
        return assignment_view(session, a)


def demand_page(ctx: Context, principal: Principal, demand_id: str) -> dict[str, Any] | None:
    """What the officer's demand page shows: the view, the actions valid for this caller right now, and whom
    it could be transferred to (:func:`~routing_service.domain.policy.transfer_targets`, the set the transfer
    command accepts; those off duty or full are listed as unavailable); None when there is no such demand or
    it is not theirs to see."""
    with unit_of_work(ctx.sessions) as session:
        a = session.get(Assignment, demand_id)
        if a is None or not may_read(session, principal, a):
            return None
        actions = [x for x in allowed_actions(a.state)
                   if may_act(principal, a, x) and not (x == "escalate" and a.escalated)]
        names = _officer_names(session)
        colleagues = [{"id": o.id, "name": names.get(o.id, o.id), "kind": o.kind, "department": o.department,
                       "available": o.has_room}
                      for o in transfer_targets(a.street, a.officer_id, roster_snapshot(session).values())
                      ] if "transfer" in actions else []
        return {"a": assignment_view(session, a), "title": a.title, "actions": actions, "names": names,
                "colleagues": colleagues}


# --- queues ----------------------------------------------------------------------------------------


def _item(row: Any, now: datetime) -> dict[str, Any]:
    """One queue entry as JSON values (the queue is the hot read: it skips per-field schema dumping)."""
    return {"demand_id": row.demand_id, "state": row.state, "street": row.street, "channel": row.channel,
            "category": row.category, "complexity": row.complexity, "title": row.title,
            "key_enterprise": row.key_enterprise, "officer_id": row.officer_id, "escalated": row.escalated,
            "reported_at": _iso(row.reported_at), "assigned_at": _iso(row.assigned_at), "next_due": _iso(row.next_due),
            "clocks": _clocks(row.sla, now)}


def _page(session: Session, where: ColumnElement[bool], page: dict[str, Any]) -> dict[str, Any]:
    """One page (``limit``, ``offset``) of a queue, most urgent first, and how many the queue holds."""
    now = datetime.now(UTC)
    total = session.scalar(select(func.count()).select_from(Assignment).where(where))
    rows = session.execute(select(*_QUEUE_COLUMNS).where(where).order_by(*URGENCY)
                           .limit(page["limit"]).offset(page["offset"]))
    return {"total": total, "items": [_item(row, now) for row in rows]}


def _street_where(street: str, kind: str) -> ColumnElement[bool]:
    if kind == "unassigned":
        return and_(Assignment.street == street, IS_UNASSIGNED)
    return and_(Assignment.street == street, Assignment.escalated, Assignment.is_open)


def my_queue(ctx: Context, subject: str, page: dict[str, Any]) -> dict[str, Any]:
    """The caller's open demands, most urgent deadline first, with the time left on each clock."""
    with unit_of_work(ctx.sessions) as session:
        return _page(session, and_(Assignment.officer_id == subject, Assignment.is_open == true()), page)


def street_queue(ctx: Context, principal: Principal, street: str, kind: str, page: dict[str, Any]) -> dict[str, Any]:
    """A street's demands nobody could take (``unassigned``) or that were escalated (``escalated``); for the
    street's supervisors and admins."""
    if street not in STREETS:
        raise RoutingRefused("not_found", f"no street {street!r}")
    if principal.role == "supervisor" and principal.street != street:
        raise RoutingRefused("forbidden", f"a supervisor of {principal.street} may not see the queues of {street}")
    with unit_of_work(ctx.sessions) as session:
        return _page(session, _street_where(street, kind), page)


def street_overview(ctx: Context, street: str, page: dict[str, Any]) -> dict[str, Any]:
    """The supervisor's page: both queues of the street and the officers' names, in one read."""
    with unit_of_work(ctx.sessions) as session:
        return {kind: _page(session, _street_where(street, kind), page) for kind in QUEUE_KINDS} | {
            "names": _officer_names(session)}


# --- the roster ------------------------------------------------------------------------------------


def _officer_names(session: Session) -> dict[str, str]:
    return {row.id: row.name for row in session.execute(select(Officer.id, Officer.name))}


def officer_view(o: Officer) -> dict[str, Any]:
    """An officer with their current load, and whether their weekly shift covers this moment."""
    duty = dict(o.duty)
    return {**roster_entry(o), "duty": DutySchema().load(duty), "open_count": o.open_count, "on_duty": o.on_duty,
            "on_shift_now": Duty.from_dict(duty).covers(datetime.now(UTC)), "edited_at": o.edited_at}


def officers(ctx: Context, street: str | None = None, kind: str | None = None,
             department: str | None = None) -> list[dict[str, Any]]:
    """The roster, optionally only the officers serving a street (or every street), of a kind, of a department."""
    with unit_of_work(ctx.sessions) as session:
        found = session.scalars(select(Officer).order_by(Officer.id)).all()
    return [officer_view(o) for o in found
            if (street is None or street in o.streets or EVERY_STREET in o.streets)
            and (kind is None or o.kind == kind) and (department is None or o.department == department)]


def officer(ctx: Context, officer_id: str) -> dict[str, Any]:
    """One officer with their current load."""
    with unit_of_work(ctx.sessions) as session:
        found = session.get(Officer, officer_id)
        if found is None:
            raise RoutingRefused("not_found", f"no officer {officer_id!r} in the roster")
        return officer_view(found)
