"""Routing decisions applied to the database: officer row locks, the assignment and its ``assigned`` event.

Concurrency: several routing workers (one consumer group) and the web processes change officers' open
counts at the same time. Every transaction that reads an officer's load to decide locks the officer rows
it may touch first — ``SELECT ... FOR UPDATE`` on PostgreSQL, in id order so two transactions never wait
on each other in a cycle — and re-reads them under the lock; only then does it lock and change assignment
rows. On SQLite every transaction already holds the database's write lock (``BEGIN IMMEDIATE``). So a
decision always sees the committed load, and no officer is ever given more than their capacity.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from routing_service import metrics
from routing_service.model import Assignment, Officer
from routing_service.policy import (
    EVERY_STREET,
    RULE_UNASSIGNED,
    DemandFacts,
    OfficerState,
    decide,
    relevant_officer_ids,
)
from routing_service.roster import officer_state
from routing_service.sla_projection import adopt_early_clocks
from routing_service.states import ASSIGNED, UNASSIGNED
from shared.contracts import events
from shared.contracts.events import new_event
from shared.messaging.outbox import emit

ROUTING_ACTOR = "routing"
# The state filter as a literal, so PostgreSQL matches it to the partial index on unassigned demands.
IS_UNASSIGNED = Assignment.state == literal(UNASSIGNED, literal_execute=True)


_SNAPSHOT_COLUMNS = (Officer.id, Officer.kind, Officer.streets, Officer.department, Officer.skills, Officer.capacity,
                     Officer.open_count, Officer.last_assigned_seq, Officer.on_duty, Officer.duty)


def roster_snapshot(session: Session) -> dict[str, OfficerState]:
    """Every officer as last committed, without locks (plain rows, not tracked entities): used to decide which
    rows to lock, and for a dry run."""
    return {row.id: officer_state(row) for row in session.execute(select(*_SNAPSHOT_COLUMNS))}


class RelevanceCache:
    """The roster's static facts (kind, streets, department, skills), cached per process, to choose which
    officer rows a decision must lock without reading and parsing the whole roster for every demand.

    Only relevance comes from here; every decision re-reads the chosen rows under their lock. The facts change
    when an admin creates or edits an officer (which stamps ``edited_at``, so the key ``(count, max(edited_at))``
    changes at once) or when the YAML roster is reloaded (caught within ``max_age_s``).
    """

    def __init__(self, max_age_s: float = 30.0) -> None:
        self.max_age_s = max_age_s
        self._key: tuple[Any, ...] | None = None
        self._loaded_at = 0.0
        self._officers: dict[str, OfficerState] = {}

    def get(self, session: Session) -> dict[str, OfficerState]:
        key = tuple(session.execute(select(func.count(), func.max(Officer.edited_at))).one())
        if key != self._key or time.monotonic() - self._loaded_at > self.max_age_s:
            self._officers, self._key, self._loaded_at = roster_snapshot(session), key, time.monotonic()
        return self._officers


RELEVANCE = RelevanceCache()


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


def facts(a: Assignment) -> DemandFacts:
    return DemandFacts(street=a.street, channel=a.channel, category=a.category, key_enterprise=a.key_enterprise,
                       chief_officer_id=a.chief_officer_id)


def give(a: Assignment, officer: Officer, rule: str, now: datetime, seq: int = 0) -> None:
    """Make ``officer`` the demand's holder (the caller holds the officer's row lock)."""
    a.officer_id, a.officer_kind, a.department = officer.id, officer.kind, officer.department
    a.rule, a.assigned_at, a.updated_at = rule, now, now
    if a.state == UNASSIGNED:
        a.state = ASSIGNED
    officer.open_count += 1
    if seq:
        officer.last_assigned_seq = seq


def release(officer: Officer | None) -> None:
    """The holder no longer counts this demand against their capacity (the caller holds the row lock)."""
    if officer is not None:
        officer.open_count = max(0, officer.open_count - 1)


def emit_assigned(session: Session, a: Assignment, actor_id: str, now: datetime) -> None:
    """Announce who holds the demand; it also repeats the demand's facts so that SLA can open the clocks
    itself if the demand's ``submitted`` never reached it (see sla_service.handlers)."""
    emit(session, new_event(events.ASSIGNED, {
        "demand_id": a.demand_id, "street": a.street, "actor_id": actor_id, "at": now,
        "officer_id": a.officer_id, "officer_kind": a.officer_kind, "department": a.department, "rule": a.rule,
        "queue": "officer" if a.officer_id else "street_unassigned",
        "channel": a.channel, "category": a.category, "complexity": a.complexity,
        "key_enterprise": a.key_enterprise, "reported_at": a.reported_at,
    }, source="/routing"))
    metrics.DECISIONS.labels(a.street, a.channel, a.rule).inc()


def route_submitted(session: Session, data: dict[str, Any], now: datetime) -> Assignment | None:
    """Route a newly submitted demand; None if it was routed already (a second delivery of it)."""
    if session.get(Assignment, data["demand_id"]) is not None:
        return None
    enterprise = data["enterprise"]
    a = Assignment(
        demand_id=data["demand_id"], street=data["street"], channel=data["channel"], category=data["category"],
        complexity=data["complexity"], title=data["title"], enterprise_uscc=enterprise["uscc"],
        key_enterprise=enterprise["key_enterprise"], chief_officer_id=enterprise.get("chief_officer_id"),
        state=UNASSIGNED, is_open=True, rule=RULE_UNASSIGNED, reported_at=data["reported_at"], updated_at=now,
        sla={}, escalated=False, auto_escalated=False, reopen_count=0,
    )
    demand = facts(a)
    locked = lock_officers(session, relevant_officer_ids(demand, RELEVANCE.get(session)))
    decision = decide(demand, {i: officer_state(o) for i, o in locked.items()}, now)
    if decision.officer_id:
        give(a, locked[decision.officer_id], decision.rule, now, decision.seq)
    else:
        metrics.UNASSIGNED.labels(a.street, a.channel, a.category).inc()
    session.add(a)
    adopt_early_clocks(session, a)
    emit_assigned(session, a, ROUTING_ACTOR, now)
    return a


def retry_unassigned(session: Session, now: datetime, streets: set[str] | None = None, limit: int = 100) -> int:
    """Route waiting demands (most urgent first) that someone can now take; returns how many were assigned.

    A dry run on the unlocked roster skips the locks when nobody has room, which is the common case.
    """
    query = select(Assignment.demand_id).where(IS_UNASSIGNED)
    if streets is not None:
        query = query.where(Assignment.street.in_(sorted(streets)))
    query = query.order_by(Assignment.next_due.asc().nulls_last(), Assignment.reported_at, Assignment.demand_id)
    ids = list(session.scalars(query.limit(limit)))
    if not ids:
        return 0
    snapshot = roster_snapshot(session)
    waiting = session.scalars(select(Assignment).where(Assignment.demand_id.in_(ids))).all()
    promising = [a for a in waiting if decide(facts(a), snapshot, now).officer_id]
    if not promising:
        return 0
    locked = lock_officers(session, {i for a in promising for i in relevant_officer_ids(facts(a), snapshot)})
    states = {i: officer_state(o) for i, o in locked.items()}
    still_waiting = {a.demand_id: a for a in session.scalars(
        select(Assignment).where(Assignment.demand_id.in_(sorted(a.demand_id for a in promising)), IS_UNASSIGNED)
        .order_by(Assignment.demand_id).with_for_update().execution_options(populate_existing=True))}
    assigned = 0
    for demand_id in ids:  # urgency order
        a = still_waiting.get(demand_id)
        if a is None:
            continue
        decision = decide(facts(a), states, now)
        if not decision.officer_id:
            continue
        officer = locked[decision.officer_id]
        give(a, officer, decision.rule, now, decision.seq)
        states[officer.id] = officer_state(officer)
        emit_assigned(session, a, ROUTING_ACTOR, now)
        assigned += 1
    return assigned


def streets_served(officer: Officer | None) -> set[str] | None:
    """The streets whose unassigned queues an officer could take from; None means every street."""
    if officer is None:
        return set()
    return None if EVERY_STREET in officer.streets else set(officer.streets)
