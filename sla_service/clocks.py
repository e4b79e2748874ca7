"""One demand's clocks inside one transaction: load (locked), change, fire what fell due, save and announce.

Handlers and the timer both go through :class:`TrackedDemand`, so the rules live in one place:

* a clock that crossed its warning or target threshold *before* the instant a change happens fires its
  ``warning`` / ``breached`` event first (once: the flags are stored with the clock), so a pause or a stop
  processed late -- e.g. after a restart -- never loses a breach;
* a changed clock is stored with its new ``target_at`` and ``next_fire_at`` (what the timer selects on);
* the daily counts get the demand's before/after difference; metrics move only after the commit.

Lock order, the same everywhere so two workers never deadlock: clock rows, then the demand row, then
the daily-count rows in key order. The timer skips locked clocks instead of waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.calendar import BusinessCalendar
from shared.contracts import events
from shared.contracts.events import CloudEvent, new_event
from shared.db import after_commit
from shared.messaging.outbox import emit
from sla_service import metrics
from sla_service.context import SlaContext
from sla_service.model import COUNT_COLUMNS, ClockRow, TimedDemand
from sla_service.policy import Clock
from sla_service.stats import CountChanges, contribution

SOURCE = "/sla"

# A Clock method applied at an instant: Clock.stop, pause, resume or reopen; False when it changed nothing.
Transition = Callable[[Clock, datetime, BusinessCalendar], bool]


def to_clock(row: ClockRow) -> Clock:
    return Clock(
        kind=row.kind, business_seconds_target=row.business_seconds_target, started_at=row.started_at,
        business_seconds_used=row.business_seconds_used, running_since=row.running_since, status=row.status,
        stopped_at=row.stopped_at, warned=row.warned, breach_emitted=row.breach_emitted,
    )


def clock_event(type_: str, demand: TimedDemand, row: ClockRow, used: float, at: datetime) -> CloudEvent:
    """An sla.events event describing ``row`` (keyed by the demand id, like every event)."""
    return new_event(type_, {
        "demand_id": demand.demand_id, "street": demand.street, "channel": demand.channel,
        "category": demand.category, "kind": row.kind, "status": row.status, "target_at": row.target_at,
        "business_seconds_used": used, "business_seconds_target": row.business_seconds_target,
        "key_enterprise": demand.key_enterprise, "at": at,
    }, source=SOURCE)


def lock_clocks(session: Session, demand_id: str) -> Sequence[ClockRow]:
    """The demand's clock rows, locked until commit (FOR UPDATE on PostgreSQL; SQLite locks the file)."""
    return session.scalars(
        select(ClockRow).where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind).with_for_update()
    ).all()


class TrackedDemand:
    """A demand and (some of) its clocks, changed in memory and written back by :meth:`save`."""

    def __init__(self, session: Session, context: SlaContext, demand: TimedDemand, rows: Sequence[ClockRow],
                 opened: bool = False) -> None:
        """``opened``: the demand and its clocks are new in this transaction (counted and announced whole)."""
        self.session = session
        self.context = context
        self.demand = demand
        self.rows = {row.kind: row for row in rows}
        self.clocks = {kind: to_clock(row) for kind, row in self.rows.items()}
        self.before = (0,) * len(COUNT_COLUMNS) if opened else contribution(demand, self._statuses())
        self._dirty: set[str] = set(self.rows) if opened else set()
        self._announce: set[str] = set(self.rows) if opened else set()

    def _statuses(self) -> dict[str, str]:
        return {kind: clock.status for kind, clock in self.clocks.items()}

    def _labels(self) -> tuple[str, str]:
        return self.demand.street, self.demand.channel

    def fire_due(self, at: datetime) -> int:
        """Emit the warnings and breaches due by ``at``; returns how many."""
        cal, fraction = self.context.calendar, self.context.policy.warning_fraction
        fired = 0
        for kind, clock in self.clocks.items():
            target_at = clock.target_at(cal)
            for name in clock.due_events(at, cal, fraction):
                row = self.rows[kind]
                if name == "breached":
                    row.breached_at = target_at or clock.stopped_at or at
                    labels = (kind, *self._labels(), self.demand.category, str(self.demand.key_enterprise).lower())
                    after_commit(self.session, lambda lb=labels: metrics.CLOCKS_BREACHED.labels(*lb).inc())
                else:
                    labels = (kind, *self._labels())
                    after_commit(self.session, lambda lb=labels: metrics.WARNINGS.labels(*lb).inc())
                self._dirty.add(kind)
                self._write(kind)
                type_ = events.BREACHED if name == "breached" else events.WARNING
                emit(self.session, clock_event(type_, self.demand, row, clock.used_at(at, cal), self.context.now()))
                fired += 1
        return fired

    def change(self, kind: str, at: datetime, transition: Transition) -> bool:
        """Apply a lifecycle transition at ``at`` after firing what was due by then; False if a no-op."""
        clock = self.clocks.get(kind)
        if clock is None:
            return False
        self.fire_due(at)
        was_stopped = clock.stopped_at is not None
        if not transition(clock, at, self.context.calendar):
            return False
        self._dirty.add(kind)
        self._announce.add(kind)
        if clock.stopped_at is not None and not was_stopped:
            self._stopped(kind, clock)
        self.fire_due(at)  # a stop past the target reports its breach if nothing had yet
        return True

    def _stopped(self, kind: str, clock: Clock) -> None:
        street, channel = self._labels()
        used = clock.business_seconds_used
        if kind == "first_response":
            after_commit(self.session,
                                 lambda: metrics.FIRST_RESPONSE_SECONDS.labels(street, channel).observe(used))
        if clock.status == "met":
            after_commit(self.session, lambda: metrics.CLOCKS_MET.labels(kind, street, channel).inc())

    def _write(self, kind: str) -> None:
        cal, fraction = self.context.calendar, self.context.policy.warning_fraction
        clock, row = self.clocks[kind], self.rows[kind]
        row.status = clock.status
        row.business_seconds_used = clock.business_seconds_used
        row.running_since = clock.running_since
        row.stopped_at = clock.stopped_at
        row.warned = clock.warned
        row.breach_emitted = clock.breach_emitted
        # The instant the target is (or was) reached: fixed once breached, unknown while paused or met.
        row.target_at = row.breached_at or clock.target_at(cal)
        row.next_fire_at = clock.next_fire_at(cal, fraction)

    def save(self, changes: CountChanges) -> None:
        """Write changed clocks back, announce lifecycle changes, and record the counts' difference."""
        now = self.context.now()
        for kind in sorted(self._dirty):
            self._write(kind)
        for kind in sorted(self._announce):
            clock, row = self.clocks[kind], self.rows[kind]
            emit(self.session, clock_event(events.CLOCK_UPDATED, self.demand, row,
                                           clock.business_seconds_used, now))
        changes.add(self.demand, self.before, contribution(self.demand, self._statuses()))
        self._dirty.clear()
        self._announce.clear()
