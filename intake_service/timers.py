"""The resend sweep: a demand must not stay unrouted silently, whatever lost its ``submitted`` event.

A relay bug that lost an outbox row, an event dead-lettered by routing, an operator's mistake: any of them
leaves a demand ``submitted`` in intake's view for good (the projection never sees ``assigned``). Once a
demand has been submitted for ``UNROUTED_RESEND_AFTER_S`` and its event has left the outbox (a backlog
after an outage is the relay's to publish, not a reason to pile up copies), the sweep re-publishes the
ORIGINAL event -- same id, time and data (:meth:`Demand.submitted_event`) -- through the outbox. Consumers
that handled it dedupe it by id; one that never did (a dead-lettered event is never recorded in
``processed_events``) handles it now.

Each demand backs off: the first resend comes ``UNROUTED_RESEND_AFTER_S`` after the demand was received,
then the gaps double up to an hour, so a demand nobody can route costs one event an hour. A pass handles at
most ``BATCH`` demands and runs every ``SWEEP_INTERVAL_S``; its query reads only the partial index over
demands still submitted, which are few whatever the size of the table.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter, Gauge
from sqlalchemy import func, literal, or_, select
from sqlalchemy.orm import Session, sessionmaker

from intake_service.model import Demand, outbox
from shared.config import Settings
from shared.db import unit_of_work
from shared.messaging.outbox import emit

log = logging.getLogger(__name__)

BATCH = 100
SWEEP_INTERVAL_S = 5.0
MAX_RESEND_GAP = timedelta(hours=1)

RESENDS = Counter("yangpu_intake_resends_total",
                  "Submitted events re-published because their demand stayed unrouted.")
UNROUTED_DEMANDS = Gauge("yangpu_intake_unrouted_demands",
                         "Demands still submitted (not routed, as intake sees it) past UNROUTED_RESEND_AFTER_S.",
                         multiprocess_mode="max")

# A literal, so that PostgreSQL matches the query to the partial index ix_demands_unrouted.
_IS_UNROUTED = Demand.status == literal("submitted", literal_execute=True)


def resend_gap(resends: int, after_s: int) -> timedelta:
    """How long to wait after the ``resends``-th resend before the next: ``after_s`` doubled each time, capped."""
    return min(timedelta(seconds=after_s * 2 ** min(resends, 32)), MAX_RESEND_GAP)  # 2**32: no overflow


def resend_unrouted(sessions: sessionmaker[Session], after_s: int, now: datetime) -> int:
    """One pass: re-publish the original events of the demands due for a resend; returns how many.

    Also sets the unrouted gauge. On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so two intake
    workers never resend the same demand at once and the sweep never waits for the projection.
    """
    cutoff = now - timedelta(seconds=after_s)
    waiting_in_outbox = select(outbox.c.id).where(outbox.c.message_key == Demand.id).exists()
    with unit_of_work(sessions) as session:
        due = session.scalars(
            select(Demand)
            .where(_IS_UNROUTED, Demand.received_at <= cutoff, Demand.submitted_event_id.is_not(None),
                   or_(Demand.next_resend_at.is_(None), Demand.next_resend_at <= now), ~waiting_in_outbox)
            .order_by(Demand.received_at)
            .limit(BATCH)
            .with_for_update(of=Demand, skip_locked=True)
        ).all()
        for demand in due:
            emit(session, demand.submitted_event())
            demand.resends += 1
            demand.next_resend_at = now + resend_gap(demand.resends, after_s)
            log.warning("re-published the submitted event of a demand unrouted for %d s (resend %d)",
                        (now - demand.received_at).total_seconds(), demand.resends,
                        extra={"demand_id": demand.id, "original_event_id": demand.submitted_event_id})
        unrouted = session.scalar(select(func.count()).select_from(Demand)
                                  .where(_IS_UNROUTED, Demand.received_at <= cutoff))
    RESENDS.inc(len(due))
    UNROUTED_DEMANDS.set(unrouted or 0)
    return len(due)


class ResendSweep:
    """The worker's timer: a :func:`resend_unrouted` pass every ``interval_s``, with the current settings.

    The worker calls its timers many times a second and hands them only the service's sessions; the
    settings are read at each pass (a few environment look-ups every few seconds).
    """

    def __init__(self, interval_s: float = SWEEP_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._next_pass = 0.0

    def __call__(self, sessions: sessionmaker[Session]) -> int:
        if time.monotonic() < self._next_pass:
            return 0
        self._next_pass = time.monotonic() + self.interval_s
        return resend_unrouted(sessions, Settings.from_env().unrouted_resend_after_s, datetime.now(UTC))
