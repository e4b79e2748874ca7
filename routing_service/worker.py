"""Routing's worker: assigns submitted demands, follows sla.events, retries the unassigned queues, relays
its outbox."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from routing_service.dispatch import retry_unassigned
from routing_service.handlers import HANDLERS
from routing_service.model import metadata
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS
from shared.db import unit_of_work
from shared.worker import WorkerSpec, main

log = logging.getLogger(__name__)


class UnassignedRetry:
    """Timer: every ``interval_s``, offer the unassigned queues again.

    Freed capacity is handled at once by the resolved/transferred handlers; this catches what no event
    announces — an officer's shift starting, an admin switching someone on duty or raising a capacity.
    """

    def __init__(self, interval_s: float = 2.0, batch: int = 100) -> None:
        self.interval_s = interval_s
        self.batch = batch
        self._next = 0.0

    def __call__(self, sessions: sessionmaker[Session]) -> int:
        if time.monotonic() < self._next:
            return 0
        with unit_of_work(sessions) as session:
            assigned = retry_unassigned(session, datetime.now(UTC), limit=self.batch)
        # A full batch may mean more is waiting: come back at once rather than after the interval.
        self._next = time.monotonic() + (0 if assigned >= self.batch else self.interval_s)
        if assigned:
            log.info("assigned demands from the unassigned queues", extra={"assigned": assigned})
        return assigned


SPEC = WorkerSpec(service="routing", metadata=metadata, topics=[DEMAND_EVENTS, SLA_EVENTS], handlers=HANDLERS,
                  timers=[UnassignedRetry()])

if __name__ == "__main__":
    main(SPEC)
