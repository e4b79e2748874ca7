"""What SLA's worker fires on time: warnings and breaches when clocks reach them.

The worker's timer loop calls these many times a second (every ~50 ms when idle, at once again after
work), so a breach goes out within one round of its ``target_at``; see
:func:`sla_service.commands.fire_due_clocks` for how several workers share the due clocks.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from shared.worker import Timer
from sla_service import commands

if TYPE_CHECKING:
    from sla_service.bootstrap import Context


def timers(ctx: Context) -> list[Timer]:
    """The timers of ``ctx``'s worker: one, firing due clocks with the worker's sessions."""
    return [partial(commands.fire_due_clocks, ctx)]
