"""The resend sweep: a demand must not stay unrouted silently, whatever lost its ``submitted`` event.

A relay bug that lost an outbox row, an event dead-lettered by routing, an operator's mistake: any of them
leaves a demand ``submitted`` in intake's view for good (the projection never sees ``assigned``). Once a
demand has been submitted for ``UNROUTED_RESEND_AFTER_S`` and its event has left the outbox (a backlog
after an outage is the relay's to publish, not a reason to pile up copies), the sweep re-publishes the
ORIGINAL event -- same id, time and data (:func:`intake_service.announce.submitted_event`) -- through the
outbox. Consumers that handled it dedupe it by id; one that never did (a dead-lettered event is never
recorded in ``processed_events``) handles it now.

Each demand backs off: the first resend comes ``UNROUTED_RESEND_AFTER_S`` after the demand was received,
then the gaps double up to an hour (:func:`intake_service.domain.policy.resend_gap`), so a demand nobody can
route costs one event an hour. A pass (:func:`intake_service.commands.resend_unrouted`) handles at most
``RESEND_BATCH`` demands and runs every ``SWEEP_INTERVAL_S``; its query reads only the partial index over
demands still submitted, which are few whatever the size of the table.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from intake_service.commands import resend_unrouted
from shared.worker import Timer

if TYPE_CHECKING:
    from intake_service.bootstrap import Context

SWEEP_INTERVAL_S = 5.0


@dataclass
class ResendSweep:
    """The worker's timer: a :func:`resend_unrouted` pass every ``interval_s``, demands older than ``after_s``.

    The worker calls its timers many times a second; all but one call every ``interval_s`` return at once.
    """

    after_s: int
    now: Callable[[], datetime]
    interval_s: float = SWEEP_INTERVAL_S
    _next_pass: float = 0.0

    def __call__(self, sessions: sessionmaker[Session]) -> int:
        if time.monotonic() < self._next_pass:
            return 0
        self._next_pass = time.monotonic() + self.interval_s
        return resend_unrouted(sessions, self.after_s, self.now())


def timers(ctx: Context) -> list[Timer]:
    """The resend sweep, after ``UNROUTED_RESEND_AFTER_S``, on the context's clock."""
    return [ResendSweep(ctx.settings.unrouted_resend_after_s, ctx.now)]
