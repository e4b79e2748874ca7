"""SLA's write use cases: time a demand, move its clocks as its lifecycle moves, fire what falls due.

Handlers (one event, in the consumer's transaction) and the timer (one short transaction per batch) both
go through :class:`TrackedDemand`, so the rules live in one place:

* a clock that crossed its warning or target threshold *before* the instant a change happens fires its
  ``warning`` / ``breached`` event first (once: the flags are stored with the clock), so a pause or a stop
  processed late -- e.g. after a restart -- never loses a breach;
* a changed clock is stored with its new ``target_at`` and ``next_fire_at`` (what the timer selects on);
* the daily counts get the demand's before/after difference; metrics move only after the commit.

Each transition happens at the event's ``at`` (when the officer acted), not when SLA got to it. Every
command returns the events it queued in the outbox.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session, sessionmaker

from shared.contracts import events
from shared.contracts.events import CloudEvent
from shared.contracts.vocabulary import CLOCK_KINDS
from shared.db import after_commit, per_transaction, unit_of_work
from shared.instants import instant_text
from sla_service import announce, metrics, repository
from sla_service.domain import holder
from sla_service.domain.clock import Clock, Transition
from sla_service.domain.compliance import NOTHING, Vector, contribution, excluded
from sla_service.domain.holder import HolderSpan
from sla_service.model import ClockRow, HolderSpanRow, TimedDemand
from sla_service.repository import CountChanges

if TYPE_CHECKING:
    from sla_service.bootstrap import Context

log = logging.getLogger(__name__)

BATCH = 200  # clocks the timer takes per transaction
# A clock whose deadline computes to the past yet has nothing due would be selected on every round;
# it is pushed this far ahead instead (a bug guard: the clock model is built so this never happens).
_RETRY = timedelta(seconds=1)
# The facts of the demand an `assigned` event must repeat for SLA to open its clocks.
_REPAIR_FIELDS = ("channel", "category", "complexity", "key_enterprise", "reported_at")


class TrackedDemand:
    """A demand and (some of) its clocks, changed in memory and written back by :meth:`save`."""

    def __init__(self, session: Session, ctx: Context, demand: TimedDemand, rows: Sequence[ClockRow],
                 opened: bool = False) -> None:
        """``opened``: the demand and its clocks are new in this transaction (counted and announced whole)."""
        self.session = session
        self.ctx = ctx
        self.demand = demand
        self.rows = {row.kind: row for row in rows}
        self.clocks = {kind: repository.to_clock(row) for kind, row in self.rows.items()}
        self.before = NOTHING if opened else self._contribution()
        self.events: list[CloudEvent] = []
        self._dirty: set[str] = set(self.rows) if opened else set()
        self._announce: set[str] = set(self.rows) if opened else set()
        # The current holder span (department clocks), read when a change of the resolution clock needs it.
        self._span: tuple[HolderSpanRow, HolderSpan] | None = None
        self._span_read = opened  # a demand opened now has no span yet

    def _contribution(self) -> Vector:
        statuses = {kind: clock.status for kind, clock in self.clocks.items()}
        demand = self.demand
        return contribution(demand.closed_at is not None, demand.outcome, statuses, demand.state,
                            bool(demand.extensions))

    def _labels(self) -> tuple[str, str]:
        return self.demand.street, self.demand.channel

    def fire_due(self, at: datetime) -> int:
        """Emit the warnings and breaches due by ``at``; returns how many."""
        cal, fraction = self.ctx.calendar, self.ctx.policy.warning_fraction
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
                self._tell(type_, kind, clock.used_at(at, cal))
                fired += 1
        return fired

    def change(self, kind: str, at: datetime, transition: Transition) -> bool:
        """Apply a lifecycle transition at ``at`` after firing what was due by then; False if a no-op."""
        clock = self.clocks.get(kind)
        if clock is None:
            return False
        self.fire_due(at)
        was_stopped = clock.stopped_at is not None
        if not transition(clock, at, self.ctx.calendar):
            return False
        self._dirty.add(kind)
        self._announce.add(kind)
        if clock.stopped_at is not None and not was_stopped:
            self._stopped(kind, clock)
        if kind == "resolution":
            self._follow_holder(at)
        self.fire_due(at)  # a stop past the target reports its breach if nothing had yet
        return True

    # ------------------------------------------------------------------ holder spans (department clocks)

    def _current_span(self) -> tuple[HolderSpanRow, HolderSpan] | None:
        if not self._span_read:
            row = repository.current_span(self.session, self.demand.demand_id)
            self._span = (row, repository.to_span(row)) if row is not None else None
            self._span_read = True
        return self._span

    def _follow_holder(self, at: datetime) -> None:
        """Pause, resume or end the current holder's span as the resolution clock just did (a reopen starts
        the same holder's next span); nothing while no holder is known (the first one takes that time)."""
        current = self._current_span()
        if current is None:
            return
        row, span = current
        was_ended = span.is_ended
        following = holder.follow(span, self.clocks["resolution"], at, self.ctx.calendar)
        self._span_changed(row, span, was_ended)
        if following is not None:
            self._start_span(following, row.seq + 1)

    def change_holder(self, officer_id: str, officer_kind: str | None, department: str | None,
                      at: datetime, previous: str | None = None) -> bool:
        """The demand has a new holder from ``at``: end the current span there and start theirs (the first
        holder's span starts with the resolution clock). Idempotent: the same holder again, or an event older
        than the current span (a redelivery after later changes), changes nothing. The first span starts with the
        clock, which may be after an assignment or transfer made outside working hours: it is never stale."""
        clock = self.clocks.get("resolution")
        if clock is None:
            return False
        group = holder.holder_group(officer_kind, department)
        current = self._current_span()
        cal = self.ctx.calendar
        if current is None and previous and previous != officer_id:
            # A demand SLA timed before it kept spans, transferred: the time so far was the former holder's.
            self._start_span(holder.first_span(previous, None, holder.UNKNOWN_GROUP, clock, at, cal), 1)
            current = self._current_span()
        if current is None:
            self._start_span(holder.first_span(officer_id, officer_kind, group, clock, at, cal), 1)
            return True
        row, span = current
        if span.officer_id == officer_id or (row.seq > 1 and at < span.started_at):
            return False
        following = holder.hand_over(span, officer_id, officer_kind, group, clock, at, cal)
        self._span_changed(row, span, was_ended=row.ended_at is not None)
        self._start_span(following, row.seq + 1)
        return True

    def _start_span(self, span: HolderSpan, seq: int) -> None:
        row = repository.new_span_row(self.demand, seq, span, self.ctx.policy.holder_seconds(span.department))
        self.session.add(row)
        self._span = (row, span)
        if span.is_ended:
            self._observe_span(span)

    def _span_changed(self, row: HolderSpanRow, span: HolderSpan, was_ended: bool) -> None:
        repository.store_span(row, span)
        if span.is_ended and not was_ended:
            self._observe_span(span)

    def _observe_span(self, span: HolderSpan) -> None:
        group, used = span.department, span.business_seconds_used
        after_commit(self.session, lambda: metrics.HOLDER_SECONDS.labels(group).observe(used))

    def retime(self, kind: str, at: datetime) -> bool:
        """Recompute the clock's instants on the calendar as it is now (an operator entered a year's schedule);
        a moved target is announced as ``clock_retimed``, and one now past fires at once. False if nothing moved."""
        row, clock = self.rows[kind], self.clocks[kind]
        before = (row.target_at, row.next_fire_at)
        self._write(kind)
        if (row.target_at, row.next_fire_at) == before:
            return False
        self._tell(events.CLOCK_RETIMED, kind, clock.used_at(at, self.ctx.calendar),
                   previous_target_at=before[0], calendar_revision=self.ctx.calendar.revision)
        self.fire_due(at)
        return True

    def stop_all(self, at: datetime) -> None:
        """Stop every clock still running or paused (a resolution or a closure answers everything)."""
        for kind in CLOCK_KINDS:
            self.change(kind, at, Clock.stop)

    def _stopped(self, kind: str, clock: Clock) -> None:
        if clock.status == "cancelled":  # the demand left the rates: no response time, nothing met
            return
        street, channel = self._labels()
        used = clock.business_seconds_used
        if kind == "first_response":
            after_commit(self.session, lambda: metrics.FIRST_RESPONSE_SECONDS.labels(street, channel).observe(used))
        if clock.status == "met":
            after_commit(self.session, lambda: metrics.CLOCKS_MET.labels(kind, street, channel).inc())

    def _write(self, kind: str) -> None:
        repository.store_clock(self.rows[kind], self.clocks[kind], self.ctx.calendar,
                               self.ctx.policy.warning_fraction)

    def _tell(self, type_: str, kind: str, used: float, **why: object) -> None:
        event = announce.clock(self.session, type_, self.demand, self.rows[kind], used, self.ctx.now(), **why)
        self.events.append(event)

    def save(self, changes: CountChanges) -> list[CloudEvent]:
        """Write changed clocks back, announce lifecycle changes, and record the counts' difference; returns
        the events queued since the last save. The demand may change again in the same transaction (it stays
        held: :func:`_tracked`), from what it is now."""
        for kind in sorted(self._dirty):
            self._write(kind)
        for kind in sorted(self._announce):
            self._tell(events.CLOCK_UPDATED, kind, self.clocks[kind].business_seconds_used)
        after = self._contribution()
        changes.add(self.demand, self.before, after)
        self.before = after
        self._dirty.clear()
        self._announce.clear()
        queued, self.events = self.events, []
        return queued


def _save(session: Session, tracked: TrackedDemand) -> list[CloudEvent]:
    """Save one demand; its counts' difference joins the transaction's, written at commit."""
    return tracked.save(CountChanges.of(session))


HELD = "demands_held"  # per transaction: the demands it opened or whose clocks it locked, tracked, by id


def _held(session: Session) -> dict[str, TrackedDemand]:
    """The demands this transaction holds: a batch often carries several events of one demand (``submitted``
    and ``assigned``), and the later ones then find its rows loaded and locked instead of reading them again."""
    return per_transaction(session, HELD, dict)


def _tracked(ctx: Context, session: Session, demand_id: str) -> TrackedDemand | None:
    """The demand with its clocks locked (held for the rest of the transaction); None when SLA does not time it."""
    held = _held(session)
    if demand_id not in held:
        found = repository.lock_clocks(session, demand_id)
        if found is None:
            return None
        held[demand_id] = TrackedDemand(session, ctx, *found)
    return held[demand_id]


def _update(ctx: Context, session: Session, demand_id: str,
            change: Callable[[TrackedDemand], None]) -> list[CloudEvent]:
    """Lock a timed demand's clocks, apply ``change`` and save; an event about a demand SLA does not time
    changes nothing (``assigned`` comes before any other, so it was never timed)."""
    tracked = _tracked(ctx, session, demand_id)
    if tracked is None:
        log.info("ignoring an event about a demand SLA does not time", extra={"demand_id": demand_id})
        return []
    change(tracked)
    return _save(session, tracked)


def _open(ctx: Context, session: Session, facts: dict[str, Any], key_enterprise: bool) -> list[CloudEvent]:
    """Start timing a demand: both clocks from ``reported_at`` moved to the next business instant.

    ``facts`` are a ``submitted`` or ``assigned`` event's: both carry the demand's street, channel, category,
    complexity and report instant at the top level, so a repaired demand is timed exactly like any other.
    """
    cal, policy = ctx.calendar, ctx.policy
    demand = repository.new_demand(session, facts, key_enterprise)
    clocks = (
        Clock.start("first_response", policy.first_response_seconds(demand.channel), demand.reported_at, cal),
        Clock.start("resolution", policy.resolution_seconds(demand.complexity), demand.reported_at, cal),
    )
    rows = [repository.new_clock_row(demand, clock, cal, policy.warning_fraction) for clock in clocks]
    session.add_all(rows)
    tracked = _held(session)[demand.demand_id] = TrackedDemand(session, ctx, demand, rows, opened=True)
    return _save(session, tracked)


# ------------------------------------------------------------------ the demand lifecycle (handlers)


def open_clocks(ctx: Context, session: Session, facts: dict[str, Any], key_enterprise: bool) -> list[CloudEvent]:
    """``submitted``: open ``first_response`` (target per channel) and ``resolution`` (per complexity).

    A demand timed already (announced twice, or repaired from its assignment) is left as it is.
    """
    if _tracked(ctx, session, facts["demand_id"]) is not None:
        return []
    return _open(ctx, session, facts, key_enterprise)


def repair_clocks(ctx: Context, session: Session, facts: dict[str, Any]) -> list[CloudEvent]:
    """``assigned`` of a demand SLA does not time: open the clocks ``submitted`` would have, from the facts the
    assignment repeats (counted as repaired, or unrepairable without them)."""
    demand_id = facts["demand_id"]
    missing = [name for name in _REPAIR_FIELDS if facts.get(name) is None]
    if missing:
        log.error("a demand SLA does not time was assigned, but the event lacks %s: its clocks cannot be "
                  "opened; replay its submitted event", ", ".join(missing), extra={"demand_id": demand_id})
        after_commit(session, lambda: metrics.CLOCKS_REPAIRED.labels("unrepairable").inc())
        return []
    queued = _open(ctx, session, facts, facts["key_enterprise"])
    log.warning("opened the clocks of a demand whose submitted event never reached SLA, from its assignment",
                extra={"demand_id": demand_id, "reported_at": instant_text(facts["reported_at"])})
    after_commit(session, lambda: metrics.CLOCKS_REPAIRED.labels("repaired").inc())
    return queued


def change_clock(ctx: Context, session: Session, demand_id: str, kind: str, at: datetime,
                 transition: Transition) -> list[CloudEvent]:
    """One clock transition at ``at``: acknowledged stops ``first_response``, materials pause and resume
    ``resolution``."""
    return _update(ctx, session, demand_id, lambda tracked: tracked.change(kind, at, transition))


def assigned(ctx: Context, session: Session, facts: dict[str, Any]) -> list[CloudEvent]:
    """``assigned``: repair the clocks if SLA never timed the demand (:func:`repair_clocks`), then, when the
    demand has a holder (not the street's unassigned queue), make them its current holder."""
    queued = [] if _tracked(ctx, session, facts["demand_id"]) is not None else repair_clocks(ctx, session, facts)
    if not facts.get("officer_id"):
        return queued
    return queued + change_holder(ctx, session, facts["demand_id"], facts["officer_id"],
                                  facts.get("officer_kind"), facts.get("department"), facts["at"])


def transferred(ctx: Context, session: Session, facts: dict[str, Any]) -> list[CloudEvent]:
    """``transferred`` (by hand, or a bulk reassignment): the target is the holder from ``at``. Routing names
    the target's kind and department; an older event without them counts the target under ``to_department``,
    or ``unknown``."""
    if not facts.get("to_officer_id"):
        return []
    kind = facts.get("to_officer_kind")
    department = facts.get("to_officer_department") if kind else facts.get("to_department")
    return change_holder(ctx, session, facts["demand_id"], facts["to_officer_id"], kind, department, facts["at"],
                         facts.get("from_officer_id"))


def change_holder(ctx: Context, session: Session, demand_id: str, officer_id: str, officer_kind: str | None,
                  department: str | None, at: datetime, previous: str | None = None) -> list[CloudEvent]:
    """A new holder of a timed demand from ``at`` (department clocks); see :meth:`TrackedDemand.change_holder`.
    ``previous`` (a transfer's former holder) takes the time so far of a demand that has no span yet."""
    return _update(ctx, session, demand_id,
                   lambda tracked: tracked.change_holder(officer_id, officer_kind, department, at, previous))


def resolve(ctx: Context, session: Session, demand_id: str, at: datetime, outcome: str,
            review: bool = False) -> list[CloudEvent]:
    """``resolved``: stops both clocks, records the outcome; the demand counts as closed from now.

    A resolution waiting for review (``review``) stops them the same way: the holder's work ended then, and
    a send-back reopens the demand (:func:`reopen`) while an approval changes no clock."""

    def apply(tracked: TrackedDemand) -> None:
        if excluded(tracked.demand.state):
            return
        tracked.stop_all(at)
        demand = tracked.demand
        demand.state, demand.outcome, demand.closed_at = "under_review" if review else "resolved", outcome, at
        labels = (outcome, demand.street, demand.channel, demand.category)
        after_commit(session, lambda: metrics.RESOLUTIONS.labels(*labels).inc())

    return _update(ctx, session, demand_id, apply)


def reopen(ctx: Context, session: Session, demand_id: str, at: datetime) -> list[CloudEvent]:
    """``reopened`` and ``sent_back`` (a resolution refused in review): ``resolution`` runs again from the
    business time already used; no longer closed. A withdrawn, rejected or merged demand stays so."""

    def apply(tracked: TrackedDemand) -> None:
        if excluded(tracked.demand.state):
            return
        tracked.change("resolution", at, Clock.reopen)
        tracked.demand.state, tracked.demand.closed_at = "open", None

    return _update(ctx, session, demand_id, apply)


def approve_review(ctx: Context, session: Session, demand_id: str) -> list[CloudEvent]:
    """``review_approved``: the resolution stands; no clock changes (they stopped when it was resolved)."""

    def apply(tracked: TrackedDemand) -> None:
        if tracked.demand.state == "under_review":
            tracked.demand.state = "resolved"

    return _update(ctx, session, demand_id, apply)


def close(ctx: Context, session: Session, demand_id: str, at: datetime, outcome: str | None) -> list[CloudEvent]:
    """``closed``: stops whatever still runs; counts as closed from now if it was never resolved (routing
    repeats the resolution's outcome, if any)."""

    def apply(tracked: TrackedDemand) -> None:
        tracked.stop_all(at)
        demand = tracked.demand
        if excluded(demand.state):
            return
        demand.state, demand.outcome = "closed", outcome or demand.outcome
        demand.closed_at = demand.closed_at or at

    return _update(ctx, session, demand_id, apply)


def extend(ctx: Context, session: Session, demand_id: str, at: datetime, seconds: int) -> list[CloudEvent]:
    """``extension_approved``: the resolution target moves ``seconds`` of business time later, from ``at`` (a
    new segment: warning and breach re-timed, announced as ``clock_updated``); a breach already reached stays
    recorded. The demand counts as extended. Routing enforced the policy's caps; SLA applies what was
    approved (an extension of a clock already stopped changes nothing)."""
    fraction = ctx.policy.warning_fraction

    def apply(tracked: TrackedDemand) -> None:
        if excluded(tracked.demand.state):
            return
        if tracked.change("resolution", at, lambda clock, when, cal: clock.extend(seconds, when, cal, fraction)):
            tracked.demand.extensions += 1
        else:
            log.warning("an approved extension found no open resolution clock; nothing moved",
                        extra={"demand_id": demand_id})

    return _update(ctx, session, demand_id, apply)


def exclude(ctx: Context, session: Session, demand_id: str, at: datetime, state: str,
            merged_into: str | None = None) -> list[CloudEvent]:
    """``withdrawn``, ``rejected``, ``merged``: every clock still running or paused stops as "cancelled" (no
    warning or breach fires later; one due before ``at`` fires first, and a breach stays in the list), and
    the demand leaves every rate, counted under ``state`` instead."""

    def apply(tracked: TrackedDemand) -> None:
        for kind in CLOCK_KINDS:
            tracked.change(kind, at, Clock.cancel)
        demand = tracked.demand
        demand.state = state
        if merged_into is not None:
            demand.merged_into = merged_into

    return _update(ctx, session, demand_id, apply)


# ------------------------------------------------------------------ the timer


def fire_due_clocks(ctx: Context, sessions: sessionmaker[Session]) -> int:
    """Fire the warnings and breaches due now, in one short transaction; returns the number of clocks handled
    (the worker's loop goes round at once if > 0).

    At most ``BATCH`` clocks with ``next_fire_at <= now``, oldest first, skipping those another worker
    holds; each says what is due, and the events, the flags and the next ``next_fire_at`` are written in
    the same transaction. So each event is emitted exactly once, and after a restart the first call fires
    whatever fell due while the worker was down (their ``next_fire_at`` is in the past).
    """
    now = ctx.now()
    with unit_of_work(sessions) as session:
        due = repository.lock_due_clocks(session, now, BATCH)
        changes = CountChanges.of(session)
        with session.no_autoflush:  # the clock updates go out together at commit, not one per event
            for row, demand in due:
                tracked = TrackedDemand(session, ctx, demand, [row])
                if not tracked.fire_due(now):
                    log.error("clock due at %s had nothing to fire; retrying later", row.next_fire_at.isoformat(),
                              extra={"demand_id": row.demand_id, "kind": row.kind})
                    row.next_fire_at = now + _RETRY
                tracked.save(changes)
    return len(due)


def retime_clocks(ctx: Context, sessions: sessionmaker[Session]) -> int:
    """Re-time the clocks an older calendar revision timed, in one short transaction; returns how many were
    looked at (the worker's loop goes round at once if > 0).

    The calendar follows the operators' entries by itself (:meth:`shared.calendar.BusinessCalendar.refresh`);
    every clock row records the revision its instants came from. At most ``BATCH`` clocks that can still fire
    with an older revision are taken, skipping those another worker holds, and rewritten with the current one
    in the same transaction as their ``clock_retimed`` events: each clock is re-timed once per revision, by
    one worker, and a crash half-way leaves the rest to the next round. A clock a worker with a not yet
    refreshed calendar writes keeps the older revision, so it is caught by the next round.
    """
    calendar = ctx.calendar
    calendar.follow()
    if calendar.revision == 0:
        return 0
    now = ctx.now()
    with unit_of_work(sessions) as session:
        stale = repository.lock_clocks_to_retime(session, calendar.revision, BATCH)
        changes = CountChanges.of(session)
        moved = 0
        with session.no_autoflush:
            for row, demand in stale:
                tracked = TrackedDemand(session, ctx, demand, [row])
                moved += tracked.retime(row.kind, now)
                tracked.save(changes)
    if stale:
        log.info("re-timed %d clocks on calendar revision %d (%d moved)", len(stale), calendar.revision, moved)
    return len(stale)


# ------------------------------------------------------------------ maintenance


def recount(ctx: Context) -> int:
    """Recompute every daily-count row from the clocks; returns the number of rows written."""
    with unit_of_work(ctx.sessions) as session:
        return repository.rebuild_counts(session)


def main() -> None:
    """``python -m sla_service.commands --rebuild``: recount the daily rows from the clocks."""
    from sla_service.bootstrap import bootstrap

    parser = argparse.ArgumentParser(description="Maintenance of SLA's daily counts.")
    parser.add_argument("--rebuild", action="store_true", help="recompute every daily row from the clocks")
    args = parser.parse_args()
    if not args.rebuild:
        parser.error("nothing to do (use --rebuild)")
    ctx = bootstrap()
    print(f"{recount(ctx)} daily rows rebuilt")
    ctx.engine.dispose()


if __name__ == "__main__":
    main()
