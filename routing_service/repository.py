"""Routing's rows: the locks a decision takes, the snapshots it reads, and the one mapping between rows and
the rules' values (:mod:`routing_service.domain.policy`).

Concurrency: several routing workers (one consumer group) and the web processes change officers' open
counts at the same time. Every transaction that reads an officer's load to decide locks the officer rows
it may touch first — ``SELECT ... FOR UPDATE`` on PostgreSQL, in id order so two transactions never wait
on each other in a cycle — and re-reads them under the lock; only then does it lock and change assignment
rows. On SQLite every transaction already holds the database's write lock (``BEGIN IMMEDIATE``). So a
decision always sees the committed load, and no officer is ever given more than their capacity.

The SLA projection: ``GET /api/v1/queue`` must answer in ≤ 50 ms (p99) with a million demands stored,
ordered by urgency, and must keep answering when sla is slow, redeploying or down. Asking sla per request
would put its latency and availability into every queue read, and the order itself (most urgent first,
paginated) needs the deadlines next to the assignments so one indexed read — ``(officer_id, is_open,
next_due)`` — returns the page. sla already announces every clock change (``clock_updated``, ``warning``,
``breached``: kind, status, target_at, business seconds used/target), so routing keeps the last of each in
the assignment's ``sla`` column. The price is eventual consistency (the projection trails sla by the event
latency) and ``business_seconds_used`` being as of the last change; the wall-clock time left is computed
from ``target_at`` at read time, which is exact while a clock runs. The two topics are not ordered with
each other, so a clock event may arrive before routing has seen the demand's ``submitted``: it waits in
``early_sla_clocks`` and is adopted when the assignment is created.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, literal, select
from sqlalchemy.orm import Session

from routing_service.domain.policy import (
    EVERY_STREET,
    RULE_UNASSIGNED,
    ClockView,
    DemandFacts,
    Duty,
    OfficerState,
    next_due,
    on_leave,
    relevant_officer_ids,
    shanghai_today,
)
from routing_service.domain.states import HELD_OPEN_STATES, UNASSIGNED
from routing_service.model import Assignment, EarlyClock, Officer
from shared.db import per_transaction
from shared.instants import instant_text

# The state filter as a literal, so PostgreSQL matches it to the partial index on unassigned demands.
IS_UNASSIGNED = Assignment.state == literal(UNASSIGNED, literal_execute=True)
ROSTER_FIELDS = ("name", "phone", "kind", "streets", "department", "skills", "capacity", "duty")


# --- rows <-> the rules' values ----------------------------------------------------------------------


def officer_state(officer: Officer | Any, today: date | None = None) -> OfficerState:
    """The policy's view of a stored officer (an entity, or a row with the same columns). An officer on leave
    ``today`` (the Shanghai date now, unless given) is off duty for every rule, transfer and escalation."""
    day = today or shanghai_today(datetime.now(UTC))
    return OfficerState(
        id=officer.id, kind=officer.kind, streets=frozenset(officer.streets), department=officer.department,
        skills=frozenset(officer.skills), capacity=officer.capacity, open_count=officer.open_count,
        last_assigned_seq=officer.last_assigned_seq,
        on_duty=officer.on_duty and not on_leave(officer.leave_from, officer.leave_until, day),
        duty=Duty.from_dict(officer.duty),
    )


def facts(a: Assignment) -> DemandFacts:
    return DemandFacts(street=a.street, channel=a.channel, category=a.category, key_enterprise=a.key_enterprise,
                       chief_officer_id=a.chief_officer_id)


def roster_entry(officer: Officer) -> dict[str, Any]:
    """The editable fields of a stored officer, in the roster's shape."""
    return {"id": officer.id, "name": officer.name, "phone": officer.phone, "kind": officer.kind,
            "streets": list(officer.streets),
            "department": officer.department, "skills": list(officer.skills), "capacity": officer.capacity,
            "duty": dict(officer.duty)}


def apply_roster_entry(officer: Officer, entry: dict[str, Any]) -> None:
    """Write the roster fields present in ``entry`` (validated and normalised) to the officer's row."""
    for key in ROSTER_FIELDS:
        if key in entry:
            setattr(officer, key, entry[key])


def new_officer(officer_id: str, edited_at: datetime | None = None) -> Officer:
    """An officer row before its roster fields are written: on duty, holding nothing."""
    return Officer(id=officer_id, open_count=0, last_assigned_seq=0, on_duty=True, edited_at=edited_at)


def clock_from_event(data: dict[str, Any]) -> dict[str, Any]:
    """The stored (JSON) shape of a clock, from an sla event's data."""
    target = data.get("target_at")
    return {"kind": data["kind"], "status": data["status"],
            "target_at": instant_text(target) if target else None,
            "business_seconds_used": float(data["business_seconds_used"]),
            "business_seconds_target": int(data["business_seconds_target"]),
            "at": instant_text(data["at"])}


def clock_views(sla: dict[str, Any]) -> list[ClockView]:
    return [ClockView(kind=c["kind"], status=c["status"],
                      target_at=datetime.fromisoformat(c["target_at"]) if c.get("target_at") else None,
                      business_seconds_used=c["business_seconds_used"],
                      business_seconds_target=c["business_seconds_target"])
            for c in (sla or {}).values()]


# --- the roster --------------------------------------------------------------------------------------


_SNAPSHOT_COLUMNS = (Officer.id, Officer.kind, Officer.streets, Officer.department, Officer.skills, Officer.capacity,
                     Officer.open_count, Officer.last_assigned_seq, Officer.on_duty, Officer.duty,
                     Officer.leave_from, Officer.leave_until)


def roster_snapshot(session: Session) -> dict[str, OfficerState]:
    """Every officer as last committed, without locks (plain rows, not tracked entities): used to decide which
    rows to lock, and for a dry run."""
    today = shanghai_today(datetime.now(UTC))
    return {row.id: officer_state(row, today) for row in session.execute(select(*_SNAPSHOT_COLUMNS))}


RELEVANCE_CHECKED = "relevance_checked"  # per transaction: the caches whose key it checked
HELD = "assignments_held"  # per transaction: the assignments it locked or added, by demand id (locked till commit)


class RelevanceCache:
    """The roster's static facts (kind, streets, department, skills), cached per process, to choose which
    officer rows a decision must lock without reading and parsing the whole roster for every demand.

    Only relevance comes from here; every decision re-reads the chosen rows under their lock. The facts change
    when an admin creates or edits an officer (which stamps ``edited_at``, so the key ``(count, max(edited_at))``
    changes at once) or when the YAML roster is reloaded (caught within ``max_age_s``). One lives in each
    process's context (:mod:`routing_service.bootstrap`).
    """

    def __init__(self, max_age_s: float = 30.0) -> None:
        self.max_age_s = max_age_s
        self._key: tuple[Any, ...] | None = None
        self._loaded_at = 0.0
        self._officers: dict[str, OfficerState] = {}

    def get(self, session: Session) -> dict[str, OfficerState]:
        """The facts as of this transaction: its first call checks the key, the others of a batch reuse it."""
        checked = per_transaction(session, RELEVANCE_CHECKED, set)
        if id(self) in checked:
            return self._officers
        key = tuple(session.execute(select(func.count(), func.max(Officer.edited_at))).one())
        checked.add(id(self))
        if key != self._key or time.monotonic() - self._loaded_at > self.max_age_s:
            self._officers, self._key, self._loaded_at = roster_snapshot(session), key, time.monotonic()
        return self._officers


def lock_officers(session: Session, ids: Iterable[str]) -> dict[str, Officer]:
    """Lock these officers' rows in id order and return them re-read under the lock."""
    ids = sorted(set(ids))
    if not ids:
        return {}
    rows = session.scalars(
        select(Officer).where(Officer.id.in_(ids)).order_by(Officer.id).with_for_update()
        .execution_options(populate_existing=True)
    )
    return {o.id: o for o in rows}


def lock_officer(session: Session, officer_id: str) -> Officer | None:
    return session.get(Officer, officer_id, with_for_update=True)


def streets_served(session: Session, officer_id: str | None) -> set[str] | None:
    """The streets whose unassigned queues an officer could take from; None means every street."""
    officer = session.get(Officer, officer_id) if officer_id else None
    if officer is None:
        return set()
    return None if EVERY_STREET in officer.streets else set(officer.streets)


# --- assignments -------------------------------------------------------------------------------------


@dataclass
class RoutingDesk:
    """A new demand's assignment (added, with the clocks that came first) and the officers any rule could
    give it to, locked, with their states for the decision."""

    assignment: Assignment
    facts: DemandFacts
    officers: dict[str, Officer]
    states: dict[str, OfficerState]


def open_assignment(session: Session, data: dict[str, Any], relevance: RelevanceCache,
                    now: datetime) -> RoutingDesk | None:
    """Everything routing a submitted demand needs, in lock order (officers first, then the new row); None
    when the demand has an assignment already (a second delivery of it, or the same demand as another event)."""
    if session.scalar(select(Assignment.demand_id).where(Assignment.demand_id == data["demand_id"])) is not None:
        return None  # (the id alone: loading the whole row as an entity cost more than the decision)
    enterprise = data["enterprise"]
    a = Assignment(
        demand_id=data["demand_id"], street=data["street"], channel=data["channel"], category=data["category"],
        complexity=data["complexity"], title=data["title"], enterprise_uscc=enterprise["uscc"],
        enterprise_name=enterprise.get("name"),
        key_enterprise=enterprise["key_enterprise"], chief_officer_id=enterprise.get("chief_officer_id"),
        state=UNASSIGNED, is_open=True, rule=RULE_UNASSIGNED, reported_at=data["reported_at"], updated_at=now,
        sla={}, escalated=False, auto_escalated=False, reopen_count=0,
    )
    demand = facts(a)
    officers = lock_officers(session, relevant_officer_ids(demand, relevance.get(session)))
    states = {i: officer_state(o) for i, o in officers.items()}
    early = [row.clock for row in session.scalars(select(EarlyClock).where(EarlyClock.demand_id == a.demand_id))]
    if early:  # before the add: the DELETE's autoflush would otherwise insert the row and the decision update it
        session.execute(delete(EarlyClock).where(EarlyClock.demand_id == a.demand_id))
    session.add(a)
    per_transaction(session, HELD, dict)[a.demand_id] = a  # a row this transaction added is as good as locked
    for clock in early:
        merge_clock(a, clock)
    return RoutingDesk(a, demand, officers, states)


def lock_assignment(session: Session, demand_id: str) -> Assignment:
    """The assignment re-read under its row lock (after the officers' locks)."""
    return session.scalars(select(Assignment).where(Assignment.demand_id == demand_id).with_for_update()
                           .execution_options(populate_existing=True)).one()


def holder_of(session: Session, demand_id: str) -> str | None:
    a = session.get(Assignment, demand_id)
    return a.officer_id if a else None


def waiting(session: Session, streets: set[str] | None, limit: int) -> list[Assignment]:
    """Up to ``limit`` demands of the unassigned queues (of ``streets``, or all), most urgent first."""
    query = select(Assignment.demand_id).where(IS_UNASSIGNED)
    if streets is not None:
        query = query.where(Assignment.street.in_(sorted(streets)))
    query = query.order_by(Assignment.next_due.asc().nulls_last(), Assignment.reported_at, Assignment.demand_id)
    ids = list(session.scalars(query.limit(limit)))
    if not ids:
        return []
    found = {a.demand_id: a for a in session.scalars(select(Assignment).where(Assignment.demand_id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def lock_still_waiting(session: Session, demand_ids: Iterable[str]) -> dict[str, Assignment]:
    """Of these demands, those still unassigned, locked (after the officers' locks) and re-read."""
    return {a.demand_id: a for a in session.scalars(
        select(Assignment).where(Assignment.demand_id.in_(sorted(demand_ids)), IS_UNASSIGNED)
        .order_by(Assignment.demand_id).with_for_update().execution_options(populate_existing=True))}


def held_by(session: Session, officer_id: str, streets: Iterable[str] | None = None) -> list[Assignment]:
    """The open demands an officer holds (of ``streets``, or all), unlocked, most urgent first."""
    query = select(Assignment).where(Assignment.officer_id == officer_id, Assignment.is_open,
                                     Assignment.state.in_(sorted(HELD_OPEN_STATES)))
    if streets is not None:
        query = query.where(Assignment.street.in_(sorted(streets)))
    return list(session.scalars(query.order_by(Assignment.next_due.asc().nulls_last(), Assignment.demand_id)))


def lock_held(session: Session, officer_id: str, demand_ids: list[str]) -> list[Assignment]:
    """Of these demands, those the officer still holds open, locked (after the officers' locks), re-read, in
    the given order."""
    if not demand_ids:
        return []
    found = {a.demand_id: a for a in session.scalars(
        select(Assignment).where(Assignment.demand_id.in_(sorted(demand_ids)), Assignment.officer_id == officer_id,
                                 Assignment.is_open).order_by(Assignment.demand_id).with_for_update()
        .execution_options(populate_existing=True))}
    return [found[i] for i in demand_ids if i in found]


# --- the SLA projection ------------------------------------------------------------------------------


def _newer(clock: dict[str, Any], than: dict[str, Any] | None) -> bool:
    return than is None or datetime.fromisoformat(clock["at"]) >= datetime.fromisoformat(than["at"])


def refresh_due(a: Assignment) -> None:
    """Recompute the deadline columns after the clocks or the demand's state changed."""
    clocks = {c.kind: c for c in clock_views(a.sla)}
    a.first_response_due = clocks["first_response"].target_at if "first_response" in clocks else None
    a.resolution_due = clocks["resolution"].target_at if "resolution" in clocks else None
    a.next_due = next_due(a.state, clocks.values())


def merge_clock(a: Assignment, clock: dict[str, Any]) -> bool:
    """Put a clock into the assignment's projection unless an equally new one is there; True if changed."""
    if not _newer(clock, (a.sla or {}).get(clock["kind"])):
        return False
    a.sla = {**(a.sla or {}), clock["kind"]: clock}  # a new dict, so the JSON column is seen as changed
    refresh_due(a)
    return True


def record_clock(session: Session, data: dict[str, Any]) -> Assignment | None:
    """Apply one sla event; returns the (row-locked) assignment, or None when it is not routed yet."""
    clock = clock_from_event(data)
    held = per_transaction(session, HELD, dict)
    # A demand's clocks change together (both open at once), so its updates come in one batch: the first locks
    # the row, the others find it held and change it in memory, and one UPDATE writes them all.
    a = held.get(data["demand_id"]) or session.get(Assignment, data["demand_id"], with_for_update=True)
    if a is not None:
        held[a.demand_id] = a
        merge_clock(a, clock)
        return a
    early = session.get(EarlyClock, (data["demand_id"], clock["kind"]), with_for_update=True)
    if early is None:
        session.add(EarlyClock(demand_id=data["demand_id"], kind=clock["kind"], clock=clock))
    elif _newer(clock, early.clock):
        early.clock = clock
    return None
