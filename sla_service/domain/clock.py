"""The pure, persistable SLA clock of one demand, in business time.

The clock holds no timer and no I/O: the SLA service stores its fields in a table, asks
``next_fire_at`` when to wake up, and calls ``due_events`` then. Every transition is idempotent,
so redelivered events (at-least-once delivery) are harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from shared.calendar import BusinessCalendar
from shared.contracts.vocabulary import CLOCK_KINDS
from sla_service.domain.policy import DEFAULT_WARNING_FRACTION

# "cancelled": stopped because the demand left the rates (withdrawn, rejected or merged), neither met nor missed.
STATUSES = ("running", "paused", "met", "breached", "cancelled")

# Datetimes have microsecond resolution, so a deadline instant may sit up to half a microsecond
# before the exact amount; thresholds compare with this slack so a timer firing at the computed
# instant always finds its event due (and never spins).
_EPS = 1e-6


@dataclass
class Clock:
    """One SLA clock of a demand, in business time; every field is plain and persistable.

    ``status`` is "running" or "paused" while open, "met"/"breached" once stopped; a clock that
    passed its target is "breached" for good (also while it keeps running, after a reopen and after an
    extension). "cancelled" is a clock stopped because its demand was withdrawn, rejected or merged.
    ``business_seconds_extended`` is how much approved extensions added to the target (included in it).
    """

    kind: str
    business_seconds_target: int
    started_at: datetime
    business_seconds_used: float = 0.0
    running_since: datetime | None = None
    status: str = "running"
    stopped_at: datetime | None = None
    warned: bool = False
    breach_emitted: bool = False
    business_seconds_extended: int = 0

    @classmethod
    def start(cls, kind: str, target: int, reported_at: datetime, cal: BusinessCalendar) -> Clock:
        """A running clock from the demand's report, moved to the next business instant."""
        if kind not in CLOCK_KINDS:
            raise ValueError(f"unknown clock kind {kind!r}; expected one of {', '.join(CLOCK_KINDS)}")
        if isinstance(target, bool) or not isinstance(target, int) or target <= 0:
            raise ValueError(f"target must be a positive whole number of business seconds, got {target!r}")
        started = cal.next_business_instant(reported_at)
        return cls(kind=kind, business_seconds_target=target, started_at=started, running_since=started)

    # ------------------------------------------------------------------ reading

    @property
    def is_running(self) -> bool:
        """Business time is accumulating (status "running", or "breached" and still open)."""
        return self.running_since is not None

    @property
    def target_ahead(self) -> bool:
        """Running, with the target not yet used up when this segment started (e.g. an extension moved it)."""
        return self.running_since is not None and self.business_seconds_used < self.business_seconds_target - _EPS

    @property
    def is_stopped(self) -> bool:
        return self.stopped_at is not None

    def used_at(self, at: datetime, cal: BusinessCalendar) -> float:
        """Business seconds used by instant ``at`` (frozen while paused or stopped)."""
        if self.running_since is None:
            return self.business_seconds_used
        return self.business_seconds_used + cal.business_seconds_between(self.running_since, at)

    def _reaches_at(self, amount: float, cal: BusinessCalendar) -> datetime | None:
        if self.running_since is None:
            return None
        remaining = amount - self.business_seconds_used
        if remaining <= _EPS:  # already reached before this running segment: due right away
            return self.running_since
        return cal.add_business_seconds(self.running_since, remaining)

    def target_at(self, cal: BusinessCalendar) -> datetime | None:
        """The instant the used time reaches the target; None unless running."""
        return self._reaches_at(self.business_seconds_target, cal)

    def warning_at(
        self, cal: BusinessCalendar, warning_fraction: float = DEFAULT_WARNING_FRACTION
    ) -> datetime | None:
        """The instant the used time reaches the warning threshold; None if not running or warned."""
        if self.warned:
            return None
        return self._reaches_at(warning_fraction * self.business_seconds_target, cal)

    # ------------------------------------------------------------------ transitions

    def pause(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Stop accumulating while the enterprise owes materials (resolution clocks only).

        Returns whether anything changed: pausing a paused/stopped clock, or a first-response
        clock (waiting for materials does not excuse a missing acknowledgement), is a no-op.
        """
        if self.kind != "resolution" or self.running_since is None:
            return False
        self.business_seconds_used = self.used_at(at, cal)
        self.running_since = None
        if self.status == "running":
            self.status = "paused"
        return True

    def resume(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Accumulate again from ``at`` (materials received); no-op unless paused."""
        if self.running_since is not None or self.stopped_at is not None:
            return False
        self.running_since = at
        if self.status == "paused":
            self.status = "running"
        return True

    def stop(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Stop for good (acknowledged / resolved): "met" before the target, else "breached"."""
        if self.stopped_at is not None:
            return False
        self.business_seconds_used = self.used_at(at, cal)
        self.running_since = None
        self.stopped_at = at
        late = self.business_seconds_used >= self.business_seconds_target - _EPS
        self.status = "breached" if late or self.status == "breached" or self.breach_emitted else "met"
        return True

    def reopen(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Run a stopped resolution clock again from the time already used.

        Time spent resolved does not count. A first-response clock is never reopened (the
        acknowledgement happened), so this is a no-op for it, as for a clock that is not stopped.
        """
        if self.kind != "resolution" or self.stopped_at is None or self.status == "cancelled":
            return False
        self.stopped_at = None
        self.running_since = at
        if self.status != "breached":
            self.status = "running"
        return True

    def cancel(self, at: datetime, cal: BusinessCalendar) -> bool:
        """Stop for good because the demand left the rates (withdrawn, rejected, merged): "cancelled".

        No warning or breach fires afterwards; a breach that fired before stays recorded (the row keeps
        its ``breached_at``). A clock already stopped keeps its status (its outcome happened).
        """
        if self.stopped_at is not None:
            return False
        self.business_seconds_used = self.used_at(at, cal)
        self.running_since = None
        self.stopped_at = at
        self.status = "cancelled"
        return True

    def extend(
        self, seconds: int, at: datetime, cal: BusinessCalendar, warning_fraction: float = DEFAULT_WARNING_FRACTION
    ) -> bool:
        """Move the target later by ``seconds`` of business time (an approved extension): a new segment from
        ``at``, so the warning and breach instants are re-timed.

        A breach already reached stays (it happened; the status stays "breached" and fires no second time);
        a clock not yet breached is warned again at the new threshold if it has not reached it. Only a
        resolution clock that is not stopped is extended; anything else is a no-op.
        """
        if self.kind != "resolution" or self.stopped_at is not None or seconds <= 0:
            return False
        if self.running_since is not None and at > self.running_since:
            self.business_seconds_used = self.used_at(at, cal)
            self.running_since = at
        self.business_seconds_target += seconds
        self.business_seconds_extended += seconds
        if (self.warned and not self.breach_emitted
                and self.business_seconds_used < warning_fraction * self.business_seconds_target - _EPS):
            self.warned = False
        return True

    # ------------------------------------------------------------------ timers

    def due_events(
        self, now: datetime, cal: BusinessCalendar, warning_fraction: float = DEFAULT_WARNING_FRACTION
    ) -> list[str]:
        """Events ("warning", then "breached") due at ``now`` and not emitted yet; marks them emitted.

        A clock stopped past its target whose breach was never emitted (its timer was late) still
        reports "breached" once, so no breach is lost; a stopped clock never warns.
        """
        if self.stopped_at is not None:
            if self.status == "breached" and not self.breach_emitted:
                self.breach_emitted = True
                return ["breached"]
            return []
        used = self.used_at(now, cal)
        events: list[str] = []
        if not self.warned and used >= warning_fraction * self.business_seconds_target - _EPS:
            self.warned = True
            events.append("warning")
        if not self.breach_emitted and used >= self.business_seconds_target - _EPS:
            self.breach_emitted = True
            self.status = "breached"
            events.append("breached")
        return events

    def next_fire_at(
        self, cal: BusinessCalendar, warning_fraction: float = DEFAULT_WARNING_FRACTION
    ) -> datetime | None:
        """The earliest pending warning/breach instant (what a timer waits for); None if none."""
        if self.stopped_at is not None or self.running_since is None:
            return None
        candidates = []
        if not self.warned:
            candidates.append(self._reaches_at(warning_fraction * self.business_seconds_target, cal))
        if not self.breach_emitted:
            candidates.append(self.target_at(cal))
        pending = [c for c in candidates if c is not None]
        return min(pending) if pending else None


# A Clock method applied at an instant: Clock.stop, pause, resume or reopen; False when it changed nothing.
Transition = Callable[[Clock, datetime, BusinessCalendar], bool]
