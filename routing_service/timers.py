"""Routing's timer: offer the unassigned queues again, for the room no event announces."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from routing_service import commands
from shared.db import unit_of_work
from shared.worker import Timer

if TYPE_CHECKING:
    from routing_service.bootstrap import Context

log = logging.getLogger(__name__)


class UnassignedRetry:
    """Every ``interval_s``, offer the unassigned queues again.

    Freed capacity is handled at once by the resolved/transferred handlers; this catches what no event
    announces — an officer's shift starting, an admin switching someone on duty or raising a capacity.
    """

    def __init__(self, ctx: Context, interval_s: float = 2.0, batch: int = 100) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self.batch = batch
        self._next = 0.0

    def __call__(self, sessions: sessionmaker[Session]) -> int:
        if time.monotonic() < self._next:
            return 0
        with unit_of_work(sessions) as session:
            assigned = len(commands.retry_unassigned(self.ctx, session, limit=self.batch))
        # A full batch may mean more is waiting: come back at once rather than after the interval.
        self._next = time.monotonic() + (0 if assigned >= self.batch else self.interval_s)
        if assigned:
            log.info("assigned demands from the unassigned queues", extra={"assigned": assigned})
        return assigned


def timers(ctx: Context) -> list[Timer]:
    """The worker's timers: the retry of the unassigned queues."""
    return [UnassignedRetry(ctx, ctx.retry_interval_s)]
