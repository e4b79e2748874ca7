"""SLA follows the demand lifecycle on ``demand.events``: opens, pauses, resumes and stops clocks.

=====================  ==========================================================================
event                  effect
=====================  ==========================================================================
submitted              opens ``first_response`` (target per channel) and ``resolution`` (per
                       complexity), both from ``reported_at`` moved to the next business instant
acknowledged           stops ``first_response`` (met, or breached if past its target)
materials_requested    pauses ``resolution`` (awaiting the enterprise)
materials_received     resumes ``resolution``
resolved               stops ``first_response`` if still running and ``resolution``; records the
                       outcome; the demand counts as closed (see ``sla_service.stats``)
reopened               resumes ``resolution`` from the business time already used; no longer closed
closed                 stops whatever still runs; counts as closed if it was never resolved (with
                       the outcome the event repeats, if any)
=====================  ==========================================================================

``transferred``, ``escalated`` and ``feedback_received`` restart nothing, so SLA has no handler for them
(an unsatisfied feedback comes with its own ``reopened`` event). ``assigned`` changes nothing either, except
for a demand SLA does not time: one demand's events share a partition and ``submitted`` is always produced
first, so its ``submitted`` was lost for SLA (dead-lettered, say). SLA then *repairs*: it opens both clocks
from the demand's facts that ``assigned`` repeats, at the original ``reported_at`` -- exactly what
``submitted`` would have done -- and counts it in ``yangpu_sla_clocks_repaired_total``. An ``assigned``
from before routing repeated those facts cannot be repaired from: it is logged and counted as
``unrepairable`` (replay the demand's ``submitted`` from the dead-letter topic). A ``submitted`` replayed
after a repair changes nothing: the demand is timed already.

Each transition happens at the event's ``at`` (when the officer acted), not when SLA got to it, and
announces the clock's new shape as ``yangpu.sla.clock_updated.v1`` through the outbox. Other events about
a demand SLA never timed are ignored: ``assigned`` comes before any of them.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from shared.contracts import events
from shared.contracts.events import CloudEvent, known
from shared.contracts.vocabulary import CLOCK_KINDS
from shared.db import after_commit
from shared.messaging.consumer import Handler
from sla_service import metrics
from sla_service.clocks import TrackedDemand, Transition, lock_clocks
from sla_service.context import current
from sla_service.model import ClockRow, TimedDemand
from sla_service.policy import Clock
from sla_service.stats import CountChanges, report_day

log = logging.getLogger(__name__)


def _submitted(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    if session.get(TimedDemand, data["demand_id"]) is not None:
        return  # the same demand announced twice (or repaired from its assignment): it is already timed
    _open_clocks(session, data, data["enterprise"]["key_enterprise"])


# The facts of the demand an `assigned` event must repeat for SLA to open its clocks.
_REPAIR_FIELDS = ("channel", "category", "complexity", "key_enterprise", "reported_at")


def _assigned(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    """Nothing for a timed demand; for one SLA does not time, open the clocks ``submitted`` would have."""
    demand_id = data["demand_id"]
    if session.get(TimedDemand, demand_id) is not None:
        return
    missing = [name for name in _REPAIR_FIELDS if data.get(name) is None]
    if missing:
        log.error("a demand SLA does not time was assigned, but the event lacks %s: its clocks cannot be "
                  "opened; replay its submitted event", ", ".join(missing), extra={"demand_id": demand_id})
        after_commit(session, lambda: metrics.CLOCKS_REPAIRED.labels("unrepairable").inc())
        return
    _open_clocks(session, data, data["key_enterprise"])
    log.warning("opened the clocks of a demand whose submitted event never reached SLA, from its assignment",
                extra={"demand_id": demand_id, "reported_at": data["reported_at"].isoformat()})
    after_commit(session, lambda: metrics.CLOCKS_REPAIRED.labels("repaired").inc())


def _open_clocks(session: Session, data: dict[str, Any], key_enterprise: bool) -> None:
    """Start timing a demand: both clocks from ``reported_at`` moved to the next business instant.

    ``data`` is a ``submitted`` or ``assigned`` event's: both carry the demand's street, channel, category,
    complexity and report instant at the top level, so a repaired demand is timed exactly like any other.
    """
    ctx = current()
    demand = TimedDemand(
        demand_id=data["demand_id"], street=data["street"], channel=data["channel"], category=data["category"],
        complexity=data["complexity"], key_enterprise=key_enterprise, reported_at=data["reported_at"],
        report_day=report_day(data["reported_at"]), state="open",
    )
    clocks = (
        Clock.start("first_response", ctx.policy.first_response_seconds(demand.channel), demand.reported_at,
                    ctx.calendar),
        Clock.start("resolution", ctx.policy.resolution_seconds(demand.complexity), demand.reported_at,
                    ctx.calendar),
    )
    rows = [ClockRow(demand_id=demand.demand_id, kind=c.kind, street=demand.street, reported_at=demand.reported_at,
                     status=c.status, business_seconds_target=c.business_seconds_target,
                     business_seconds_used=c.business_seconds_used, started_at=c.started_at,
                     running_since=c.running_since, warned=c.warned, breach_emitted=c.breach_emitted)
            for c in clocks]
    session.add(demand)
    session.flush()  # the demand row first: the clocks reference it
    session.add_all(rows)
    _save(session, TrackedDemand(session, ctx, demand, rows, opened=True))


def _tracked(session: Session, data: dict[str, Any]) -> TrackedDemand | None:
    rows = lock_clocks(session, data["demand_id"])
    if not rows:
        log.info("ignoring an event about a demand SLA does not time", extra={"demand_id": data["demand_id"]})
        return None
    demand = session.get(TimedDemand, data["demand_id"])
    return TrackedDemand(session, current(), demand, rows)


def _save(session: Session, tracked: TrackedDemand) -> None:
    changes = CountChanges()
    tracked.save(changes)
    changes.apply(session)


def _transition(kind: str, transition: Transition) -> Handler:
    """A handler applying one clock transition at the event's ``at``."""

    def handle(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
        tracked = _tracked(session, data)
        if tracked is None:
            return
        tracked.change(kind, data["at"], transition)
        _save(session, tracked)

    return handle


def _resolved(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    tracked = _tracked(session, data)
    if tracked is None:
        return
    at, demand = data["at"], tracked.demand
    for kind in CLOCK_KINDS:
        tracked.change(kind, at, Clock.stop)
    demand.state = "resolved"
    demand.outcome = data["outcome"]
    demand.closed_at = at
    labels = (data["outcome"], demand.street, demand.channel, demand.category)
    after_commit(session, lambda: metrics.RESOLUTIONS.labels(*labels).inc())
    _save(session, tracked)


def _reopened(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    tracked = _tracked(session, data)
    if tracked is None:
        return
    tracked.change("resolution", data["at"], Clock.reopen)
    tracked.demand.state = "open"
    tracked.demand.closed_at = None
    _save(session, tracked)


def _closed(session: Session, event: CloudEvent, data: dict[str, Any]) -> None:
    tracked = _tracked(session, data)
    if tracked is None:
        return
    at, demand = data["at"], tracked.demand
    for kind in CLOCK_KINDS:
        tracked.change(kind, at, Clock.stop)
    demand.state = "closed"
    demand.outcome = data.get("outcome") or demand.outcome  # routing repeats the resolution's outcome
    if demand.closed_at is None:
        demand.closed_at = at
    _save(session, tracked)


HANDLERS: dict[str, Handler] = known({
    events.SUBMITTED: _submitted,
    events.ASSIGNED: _assigned,
    events.ACKNOWLEDGED: _transition("first_response", Clock.stop),
    events.MATERIALS_REQUESTED: _transition("resolution", Clock.pause),
    events.MATERIALS_RECEIVED: _transition("resolution", Clock.resume),
    events.RESOLVED: _resolved,
    events.REOPENED: _reopened,
    events.CLOSED: _closed,
})
