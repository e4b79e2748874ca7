"""Routing's read side: who holds a demand and why, the queues most urgent first, the roster, the pages' views.

Each read opens its own short transaction and returns JSON-ready values; who may read what is decided here
too (a refusal is a :class:`RoutingRefused`), so the API and the pages cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from routing_service.domain import RoutingRefused
from routing_service.domain.alerts import (
    ALERTS_SHOWN,
    FEED_ALERTS,
    FEED_NOTIFICATIONS,
    NOTICE_WINDOW,
    NOTICES_SHOWN,
    RECENT_RESOLVED,
    alert_street_scope,
    notices,
)
from routing_service.domain.policy import EVERY_STREET, Duty, may_act, on_leave, shanghai_today, transfer_targets
from routing_service.domain.states import AWAITING_MATERIALS, CLOSED, FEEDBACK_RECEIVED, RESOLVED, allowed_actions
from routing_service.model import Alert, Assignment, Officer, ReadMark, Transfer
from routing_service.reference import DutySchema
from routing_service.repository import IS_UNASSIGNED, clock_views, roster_entry, roster_snapshot
from shared.auth import Principal
from shared.calendar import SHANGHAI
from shared.contracts.reference import STREETS
from shared.db import unit_of_work
from shared.instants import instant_text, parse_instant

if TYPE_CHECKING:
    from routing_service.bootstrap import Context

URGENCY = (Assignment.next_due.asc().nulls_last(), Assignment.demand_id)
RECENT = (Assignment.updated_at.desc(), Assignment.demand_id)
QUEUE_KINDS = ("unassigned", "escalated")
# The officer's lists (tabs): 待办 open work most urgent first; 办结待回访 resolved, awaiting the enterprise's
# feedback (or with it in, awaiting 结案); 已结案 closed, most recent first.
OFFICER_TABS = ("open", "resolved", "closed")
_TAB_STATES = {"resolved": (RESOLVED, FEEDBACK_RECEIVED), "closed": (CLOSED,)}
_QUEUE_COLUMNS = (Assignment.demand_id, Assignment.state, Assignment.street, Assignment.channel, Assignment.category,
                  Assignment.complexity, Assignment.title, Assignment.key_enterprise, Assignment.officer_id,
                  Assignment.escalated, Assignment.reported_at, Assignment.assigned_at, Assignment.next_due,
                  Assignment.sla, Assignment.enterprise_name, Assignment.enterprise_uscc, Assignment.updated_at,
                  Assignment.outcome, Assignment.satisfaction)


def _iso(t: datetime | None) -> str | None:
    return instant_text(t) if t else None


def _extension(request: dict[str, Any] | None) -> dict[str, Any] | None:
    """The extension waiting for the supervisor, its ``at`` in UTC with Z (requests stored before the
    convention of :mod:`shared.instants` kept ``+00:00``)."""
    if not request or not isinstance(request.get("at"), str):
        return request
    return {**request, "at": instant_text(parse_instant(request["at"]))}


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
        "extension_request": _extension(a.extension_request), "extension_count": a.extension_count or 0,
        "returned_by": list(a.returned_by or []), "merged_into": a.merged_into,
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
            "clocks": settled(_clocks(row.sla, now), row.state), "enterprise_name": row.enterprise_name,
            "enterprise_uscc": row.enterprise_uscc, "updated_at": _iso(row.updated_at), "outcome": row.outcome,
            "satisfaction": row.satisfaction}


def _page(session: Session, where: ColumnElement[bool], page: dict[str, Any],
          order: tuple[Any, ...] = URGENCY) -> dict[str, Any]:
    """One page (``limit``, ``offset``) of a queue, most urgent first (or ``order``), and how many it holds."""
    now = datetime.now(UTC)
    total = session.scalar(select(func.count()).select_from(Assignment).where(where))
    rows = session.execute(select(*_QUEUE_COLUMNS).where(where).order_by(*order)
                           .limit(page["limit"]).offset(page["offset"]))
    return {"total": total, "items": [_item(row, now) for row in rows]}


def _street_where(street: str, kind: str) -> ColumnElement[bool]:
    if kind == "unassigned":
        return and_(Assignment.street == street, IS_UNASSIGNED)
    return and_(Assignment.street == street, Assignment.escalated, Assignment.is_open)


def _officer_where(subject: str, args: dict[str, Any], now: datetime) -> ColumnElement[bool]:
    """An officer's own demands in one tab, narrowed by the search and filters. Every condition starts from
    ``officer_id`` so the queue index (open) or the officer-state index (resolved, closed) bounds the read; the
    search (enterprise name, credit code, title: a substring, any case) filters within that range."""
    tab = args.get("tab", "open")
    conditions: list[ColumnElement[bool]] = [Assignment.officer_id == subject]
    if tab == "open":
        conditions.append(Assignment.is_open == true())
    else:
        conditions.append(Assignment.state.in_(_TAB_STATES[tab]))
    if args.get("status"):
        conditions.append(Assignment.state == args["status"])
    if args.get("channel"):
        conditions.append(Assignment.channel == args["channel"])
    if args.get("due_today"):
        tomorrow = datetime.combine(now.astimezone(SHANGHAI).date() + timedelta(days=1), time(), tzinfo=SHANGHAI)
        conditions.append(Assignment.next_due < tomorrow)  # due today, or overdue already
    q = (args.get("q") or "").strip()
    if q:
        conditions.append(or_(func.lower(Assignment.enterprise_name).contains(q.lower(), autoescape=True),
                              Assignment.enterprise_uscc.contains(q.upper(), autoescape=True),
                              func.lower(Assignment.title).contains(q.lower(), autoescape=True)))
    return and_(*conditions)


def my_queue(ctx: Context, subject: str, args: dict[str, Any]) -> dict[str, Any]:
    """The caller's demands in one tab (``open`` by default: most urgent deadline first, with the time left on
    each clock; ``resolved`` and ``closed``: most recent first), searched and filtered; the page and
    ``GET /api/v1/queue`` both read it."""
    order = URGENCY if args.get("tab", "open") == "open" else RECENT
    with unit_of_work(ctx.sessions) as session:
        return _page(session, _officer_where(subject, args, datetime.now(UTC)), args, order)


def settled(clocks: list[dict[str, Any]], state: str) -> list[dict[str, Any]]:
    """The clocks as the demand's state already implies: right after an action routing knows the state at once,
    while sla's word on the clocks follows by event (acknowledged: first response met; awaiting materials:
    resolution paused; resolved or later: resolution met)."""
    out = []
    for c in clocks:
        c = dict(c)
        if c["kind"] == "first_response" and state not in ("unassigned", "assigned") and c["status"] == "running":
            c["status"] = "met"
        elif c["kind"] == "resolution" and c["status"] in ("running", "paused"):
            if state in (RESOLVED, FEEDBACK_RECEIVED, CLOSED):
                c["status"] = "met"
            elif state == AWAITING_MATERIALS and c["status"] == "running":
                c["status"], c["target_at"] = "paused", None
        out.append(c)
    return out


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
    now = datetime.now(UTC)
    return {**roster_entry(o), "duty": DutySchema().load(duty), "open_count": o.open_count, "on_duty": o.on_duty,
            "on_shift_now": Duty.from_dict(duty).covers(now), "edited_at": o.edited_at,
            "leave_from": o.leave_from, "leave_until": o.leave_until,
            "on_leave": on_leave(o.leave_from, o.leave_until, shanghai_today(now))}


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


# --- the supervisor's street ------------------------------------------------------------------------

STREET_WORK = ("open", "due_today", "overdue", "awaiting_materials")  # the columns of the work-by-officer table


def _work_conditions(now: datetime) -> dict[str, ColumnElement[bool]]:
    """Among open demands: each column's condition (due today: the nearest deadline is later today, Shanghai)."""
    tomorrow = datetime.combine(now.astimezone(SHANGHAI).date() + timedelta(days=1), time(), tzinfo=SHANGHAI)
    return {"open": true(), "due_today": and_(Assignment.next_due >= now, Assignment.next_due < tomorrow),
            "overdue": Assignment.next_due < now, "awaiting_materials": Assignment.state == AWAITING_MATERIALS}


def street_work(ctx: Context, street: str) -> list[dict[str, Any]]:
    """The street's open demands per holding officer (names, busiest first): open, due today, overdue, awaiting
    the enterprise's materials. The unassigned ones are the supervisor's own list, not a row here."""
    conditions = _work_conditions(datetime.now(UTC))
    counts = [func.coalesce(func.sum(case((cond, 1), else_=0)), 0) for cond in conditions.values()]
    with unit_of_work(ctx.sessions) as session:
        rows = session.execute(
            select(Assignment.officer_id, *counts)
            .where(Assignment.street == street, Assignment.is_open == true(), Assignment.officer_id.is_not(None))
            .group_by(Assignment.officer_id)).all()
        names = _officer_names(session)
    work = [{"officer_id": row[0], "name": names.get(row[0], row[0]),
             **{key: int(n) for key, n in zip(conditions, row[1:], strict=True)}} for row in rows]
    return sorted(work, key=lambda w: (-w["overdue"], -w["open"], w["name"]))


def officer_street_work(ctx: Context, street: str, officer_id: str, show: str,
                        page: dict[str, Any]) -> dict[str, Any]:
    """One row's demands of :func:`street_work`: what ``officer_id`` holds open in ``street``, narrowed to the
    column ``show`` (one of :data:`STREET_WORK`), most urgent first; with the officer's name."""
    where = and_(Assignment.street == street, Assignment.is_open == true(), Assignment.officer_id == officer_id,
                 _work_conditions(datetime.now(UTC))[show])
    with unit_of_work(ctx.sessions) as session:
        found = _page(session, where, page)
        names = _officer_names(session)
    return {**found, "names": names, "officer_name": names.get(officer_id)}


def demand_facts(ctx: Context, street: str, demand_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Title, holder (id and name) and enterprise name of a few demands of ``street``, by id: what the
    supervisor's breach and escalation cards and drill-down lists show beside sla's figures. The enterprise
    name is ``None`` where routing does not know it (demands routed before it kept the name)."""
    if not demand_ids:
        return {}
    enterprise = getattr(Assignment, "enterprise_name", None)
    columns = [Assignment.demand_id, Assignment.title, Assignment.officer_id, Assignment.state]
    with unit_of_work(ctx.sessions) as session:
        rows = session.execute(select(*columns, *([enterprise] if enterprise is not None else []))
                               .where(Assignment.street == street, Assignment.demand_id.in_(demand_ids))).all()
        names = _officer_names(session)
    return {row.demand_id: {"title": row.title, "officer_id": row.officer_id, "state": row.state,
                            "officer_name": names.get(row.officer_id) if row.officer_id else None,
                            "enterprise_name": row[4] if len(row) > 4 else None} for row in rows}


def awaiting_supervisor(ctx: Context, street: str, page: dict[str, Any]) -> dict[str, Any]:
    """What waits for the street supervisor's word (their page's first cards): extension requests with what
    was asked (``extension_request``), and resolutions under review (结案审核) with the holder's outcome and
    note; most urgent first, with the officers' names. Pending requests are read from the open demands of the
    states that take one (the JSON column is tested in Python: SQL NULL and JSON null both mean none)."""
    from routing_service.domain.states import EXTENSION_STATES, UNDER_REVIEW

    now = datetime.now(UTC)
    with unit_of_work(ctx.sessions) as session:
        held = session.scalars(select(Assignment).where(Assignment.street == street,
                                                        Assignment.state.in_(EXTENSION_STATES))
                               .order_by(*URGENCY)).all()
        asked = [a for a in held if a.extension_request]
        extensions = [{**_item(a, now), "extension_request": _extension(a.extension_request)}
                      for a in asked[:page["limit"]]]
        reviewed = session.scalars(select(Assignment).where(Assignment.street == street,
                                                            Assignment.state == UNDER_REVIEW)
                                   .order_by(*URGENCY).limit(page["limit"])).all()
        total = session.scalar(select(func.count()).select_from(Assignment)
                               .where(Assignment.street == street, Assignment.state == UNDER_REVIEW))
        reviews = [{**_item(a, now), "resolution_note": a.resolution_note} for a in reviewed]
        return {"extensions": {"total": len(asked), "items": extensions}, "reviews": {"total": total,
                                                                                      "items": reviews},
                "names": _officer_names(session)}


# --- alerts and the officers' notices (issue 18) ---------------------------------------------------------


def _seen_through(session: Session, subject: str, feed: str) -> datetime | None:
    return session.scalar(select(ReadMark.seen_through).where(ReadMark.subject == subject, ReadMark.feed == feed))


def _alerts_where(principal: Principal, show: str, now: datetime) -> ColumnElement[bool]:
    everything, street = alert_street_scope(principal)
    where = true() if everything else Alert.street == street
    if show == "active":
        where = and_(where, or_(Alert.status == "firing", Alert.ends_at >= now - RECENT_RESOLVED))
    return where


def _alert_view(alert: Alert, seen: datetime | None) -> dict[str, Any]:
    return {"id": alert.id, "alertname": alert.alertname, "status": alert.status, "severity": alert.severity,
            "street": alert.street, "summary": alert.summary, "description": alert.description,
            "runbook": alert.runbook, "page": alert.page, "generator_url": alert.generator_url,
            "starts_at": alert.starts_at, "ends_at": alert.ends_at, "received_at": alert.received_at,
            "unread": seen is None or alert.received_at > seen}


def alerts(ctx: Context, principal: Principal, show: str = "active") -> dict[str, Any]:
    """The alerts the caller may see (a supervisor their street's, an admin all), firing first, newest first,
    each marked unread if received after the caller last read them; ``unread`` counts the active ones."""
    now = datetime.now(UTC)
    with unit_of_work(ctx.sessions) as session:
        seen = _seen_through(session, principal.subject, FEED_ALERTS)
        found = session.scalars(select(Alert).where(_alerts_where(principal, show, now))
                                .order_by((Alert.status == "firing").desc(), Alert.received_at.desc(), Alert.id.desc())
                                .limit(ALERTS_SHOWN)).all()
        return {"items": [_alert_view(a, seen) for a in found],
                "unread": _unread_alerts(session, principal, seen, now)}


def _unread_alerts(session: Session, principal: Principal, seen: datetime | None, now: datetime) -> int:
    where = _alerts_where(principal, "active", now)
    if seen is not None:
        where = and_(where, Alert.received_at > seen)
    return session.scalar(select(func.count()).select_from(Alert).where(where)) or 0


def unread_alerts(ctx: Context, principal: Principal) -> int:
    """The bell: active alerts the caller may see and has not read (one count, every 2 s per open page)."""
    with unit_of_work(ctx.sessions) as session:
        return _unread_alerts(session, principal, _seen_through(session, principal.subject, FEED_ALERTS),
                              datetime.now(UTC))


def notifications(ctx: Context, subject: str) -> dict[str, Any]:
    """The officer's notices (a demand given to them, a clock of theirs reaching its warning) over the last
    days, newest first, read from their open assignments (at most their capacity, on the queue's index), and
    how many came after their read mark."""
    now = datetime.now(UTC)
    since = now - NOTICE_WINDOW
    with unit_of_work(ctx.sessions) as session:
        seen = _seen_through(session, subject, FEED_NOTIFICATIONS)
        rows = session.execute(
            select(Assignment.demand_id, Assignment.title, Assignment.enterprise_name, Assignment.assigned_at,
                   Assignment.warned_at, Assignment.warned_clock)
            .where(Assignment.officer_id == subject, Assignment.is_open,
                   or_(Assignment.assigned_at > since, Assignment.warned_at > since))).all()
    found = notices(rows, since)
    unread = [n for n in found if seen is None or n.at > seen]
    return {"items": [(n, seen is None or n.at > seen) for n in found[:NOTICES_SHOWN]], "unread": len(unread)}
