"""The timer: fires warnings and breaches when clocks reach them, from the worker loop.

The worker calls :func:`fire_due_clocks` on every iteration (every ~10 ms when idle), so a breach goes out
within one loop round of its ``target_at``. Each call is one short transaction:

1. select at most ``BATCH`` clocks with ``next_fire_at <= now`` (partial index ``ix_clocks_due``), oldest
   first, ``FOR UPDATE OF clocks SKIP LOCKED`` on PostgreSQL -- several sla workers take disjoint clocks
   and never wait for each other; SQLite runs one writer at a time anyway;
2. let each clock say what is due (``Clock.due_events``: the warning and breach flags are part of the row);
3. write the events to the outbox, the flags and the next ``next_fire_at`` in the same transaction.

So each event is emitted exactly once, and after a restart the first call fires whatever fell due while
the worker was down (their ``next_fire_at`` is in the past).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import unit_of_work
from sla_service.clocks import TrackedDemand
from sla_service.context import current
from sla_service.model import ClockRow, TimedDemand
from sla_service.stats import CountChanges

log = logging.getLogger(__name__)

BATCH = 200
# A clock whose deadline computes to the past yet has nothing due would be selected on every round;
# it is pushed this far ahead instead (a bug guard: the clock model is built so this never happens).
_RETRY = timedelta(seconds=1)


def fire_due_clocks(sessions: sessionmaker[Session]) -> int:
    """Fire what is due now; returns the number of clocks handled (the loop goes round at once if > 0)."""
    ctx = current()
    now = ctx.now()
    with unit_of_work(sessions) as session:
        due = session.execute(
            select(ClockRow, TimedDemand)
            .join(TimedDemand, TimedDemand.demand_id == ClockRow.demand_id)
            .where(ClockRow.next_fire_at <= now)
            .order_by(ClockRow.next_fire_at)
            .limit(BATCH)
            .with_for_update(of=ClockRow, skip_locked=True)
        ).all()
        changes = CountChanges()
        with session.no_autoflush:  # the clock updates go out together at commit, not one per event
            for row, demand in due:
                tracked = TrackedDemand(session, ctx, demand, [row])
                if not tracked.fire_due(now):
                    log.error("clock due at %s had nothing to fire; retrying later", row.next_fire_at.isoformat(),
                              extra={"demand_id": row.demand_id, "kind": row.kind})
                    row.next_fire_at = now + _RETRY
                tracked.save(changes)
            changes.apply(session)
    return len(due)
