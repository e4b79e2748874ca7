"""Department clocks (OLA): how long each holder of a demand had it, in business time.

The resolution clock measures the demand as a whole; its running time is split into *holder spans*, one
per holding period of an officer (a street officer or a department specialist), so a supervisor can see
which department is slow. The spans of a demand partition the running time of its resolution clock:

* the first span starts when the resolution clock starts: the time before the first assignment (routing
  deciding, or the demand waiting in its street's unassigned queue) is attributed to the first holder, who
  is the one to act on it -- so nothing of the clock's time belongs to nobody;
* each change of holder (``assigned`` after a return or from the queue, ``transferred``) ends one span and
  starts the next at the event's ``at``;
* a pause for materials pauses the current span (time awaiting the enterprise counts for no holder), a
  resume resumes it;
* the end of the resolution clock (resolved, closed, withdrawn, rejected, merged) ends the current span;
  a reopen (``reopened``, ``sent_back``) starts a *new* span for the same holder, so an ended span -- the
  one the figures and the metric counted -- never changes.

Hence the invariant the tests hold: the spans' business seconds sum to the clock's business seconds used.
Like :class:`sla_service.domain.clock.Clock`, a span holds no I/O and every transition is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.calendar import BusinessCalendar
from sla_service.domain.clock import Clock

# The holder group of a street's own officers (supervisor, chief service officer, street commissioner):
# they belong to no district department, so the figures and the policy name them by this key.
STREET_GROUP = "street"
# The group of a holder an older ``transferred`` event does not describe (neither kind nor department).
UNKNOWN_GROUP = "unknown"
END_REASONS = ("handed_over", "stopped")


def holder_group(officer_kind: str | None, department: str | None) -> str:
    """The department a holder's time counts for: their department code, else the street's own officers
    (``street``); ``unknown`` when neither is known (an event from before routing said so)."""
    if department:
        return department
    return STREET_GROUP if officer_kind else UNKNOWN_GROUP


@dataclass
class HolderSpan:
    """One holding period of one officer; plain and persistable like a Clock.

    ``department`` is the :func:`holder_group`; ``business_seconds_used`` is frozen while paused or ended;
    ``running_since`` is set while the span accumulates.
    """

    officer_id: str
    officer_kind: str | None
    department: str
    started_at: datetime
    business_seconds_used: float = 0.0
    running_since: datetime | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None

    @property
    def is_ended(self) -> bool:
        return self.ended_at is not None

    def used_at(self, at: datetime, cal: BusinessCalendar) -> float:
        """Business seconds held by instant ``at`` (frozen while paused or ended)."""
        if self.running_since is None:
            return self.business_seconds_used
        return self.business_seconds_used + cal.business_seconds_between(self.running_since, at)

    def pause(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Stop accumulating (materials requested); False if not running."""
        if self.running_since is None:
            return False
        self.business_seconds_used = self.used_at(at, cal)
        self.running_since = None
        return True

    def resume(self, at: datetime) -> bool:
        """Accumulate again from ``at``; False unless paused and not ended."""
        if self.running_since is not None or self.ended_at is not None:
            return False
        self.running_since = at
        return True

    def end(self, at: datetime, cal: BusinessCalendar, reason: str) -> bool:
        """End for good (``handed_over`` to the next holder, or ``stopped`` with the clock); False if ended."""
        if self.ended_at is not None:
            return False
        if reason not in END_REASONS:
            raise ValueError(f"unknown end reason {reason!r}; expected one of {', '.join(END_REASONS)}")
        self.business_seconds_used = self.used_at(at, cal)
        self.running_since = None
        self.ended_at = at
        self.end_reason = reason
        return True


def first_span(officer_id: str, officer_kind: str | None, department: str, clock: Clock, at: datetime,
               cal: BusinessCalendar) -> HolderSpan:
    """The first holder's span, learnt at ``at``: it starts with the resolution clock and takes all the time
    the clock used so far (before the first assignment), running if the clock runs."""
    running = clock.running_since
    span = HolderSpan(officer_id, officer_kind, department, started_at=clock.started_at,
                      business_seconds_used=clock.used_at(at, cal),
                      running_since=None if running is None else max(at, running))
    if clock.is_stopped:
        span.end(at, cal, "stopped")
    return span


def hand_over(current: HolderSpan, officer_id: str, officer_kind: str | None, department: str, clock: Clock,
              at: datetime, cal: BusinessCalendar) -> HolderSpan:
    """End ``current`` at ``at`` and return the next holder's span from ``at`` (running if the clock runs;
    paused while materials are awaited or the clock is stopped, to run when the clock runs again)."""
    current.end(at, cal, "handed_over")
    return HolderSpan(officer_id, officer_kind, department, started_at=at,
                      running_since=at if clock.is_running else None)


def follow(current: HolderSpan, clock: Clock, at: datetime, cal: BusinessCalendar) -> HolderSpan | None:
    """Keep ``current`` in step with the resolution clock after one of its transitions at ``at``.

    Pauses or resumes it as the clock does, ends it when the clock stops; returns a new span for the same
    holder when a stopped clock runs again (a reopen) and ``current`` had ended, else None.
    """
    if clock.is_stopped:
        current.end(at, cal, "stopped")
        return None
    if clock.is_running:
        if current.is_ended:
            return HolderSpan(current.officer_id, current.officer_kind, current.department, started_at=at,
                              running_since=at)
        current.resume(at)
        return None
    current.pause(at, cal)
    return None
