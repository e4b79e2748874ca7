"""What SLA's worker does on time: warnings and breaches when clocks reach them, and re-timing the clocks
when operators enter a year's official calendar.

The worker's timer loop calls these several times a second (every 0.2 s when idle, at once again after
work), so a breach goes out within one round of its ``target_at``; see
:func:`sla_service.commands.fire_due_clocks` for how several workers share the due clocks and
:func:`sla_service.commands.retime_clocks` for the re-timing.
"""

from __future__ import annotations

from functools import partial
from time import monotonic
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from shared.worker import Timer
from sla_service import commands

if TYPE_CHECKING:
    from sla_service.bootstrap import Context


# Once no clock is left to re-time at a revision, look again this often (a worker whose calendar was not yet
# refreshed may have timed one with the older revision meanwhile).
SWEEP_SECONDS = 5.0


class CalendarFollower:
    """Re-times clocks while a new calendar revision has some left, then only every :data:`SWEEP_SECONDS`, so an
    idle worker does not query for them on every round."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.clean_revision = -1
        self.next_sweep = 0.0

    def __call__(self, sessions: sessionmaker[Session]) -> int:
        calendar = self.ctx.calendar
        calendar.follow()
        if calendar.revision == self.clean_revision and monotonic() < self.next_sweep:
            return 0
        handled = commands.retime_clocks(self.ctx, sessions)
        if not handled:
            self.clean_revision, self.next_sweep = calendar.revision, monotonic() + SWEEP_SECONDS
        return handled


def timers(ctx: Context) -> list[Timer]:
    """The timers of ``ctx``'s worker: firing due clocks and following the calendar, with the worker's sessions."""
    return [partial(commands.fire_due_clocks, ctx), CalendarFollower(ctx)]
