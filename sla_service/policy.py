"""SLA policy (targets per channel and complexity) and the pure, persistable SLA clock.

Targets are business time (see ``shared.calendar``): the policy file speaks in working days or
business seconds, and everything here is converted to business seconds once, at load.

The clock holds no timer and no I/O: the SLA service stores its fields in a table, asks
``next_fire_at`` when to wake up, and calls ``due_events`` then. Every transition is idempotent,
so redelivered events (at-least-once delivery) are harmless.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from shared.calendar import BusinessCalendar
from shared.contracts.vocabulary import CHANNELS, CLOCK_KINDS, COMPLEXITIES

STATUSES = ("running", "paused", "met", "breached")
DEFAULT_WARNING_FRACTION = 0.8
DEFAULT_SECONDS_PER_WORKING_DAY = 28_800
DURATION_UNITS = ("working_days", "business_seconds")

# Datetimes have microsecond resolution, so a deadline instant may sit up to half a microsecond
# before the exact amount; thresholds compare with this slack so a timer firing at the computed
# instant always finds its event due (and never spins).
_EPS = 1e-6


class PolicyError(ValueError):
    """The SLA policy is malformed; the message names the file and the offending key."""


@dataclass(frozen=True)
class SlaPolicy:
    """Resolved targets in business seconds for every channel and complexity."""

    first_response_targets: Mapping[str, int] = field(hash=False)
    resolution_targets: Mapping[str, int] = field(hash=False)
    warning_fraction: float = DEFAULT_WARNING_FRACTION
    seconds_per_working_day: int = DEFAULT_SECONDS_PER_WORKING_DAY

    def __post_init__(self) -> None:
        for name, members in (("first_response", CHANNELS), ("resolution", COMPLEXITIES)):
            targets = getattr(self, f"{name}_targets")
            missing = [m for m in members if m not in targets]
            if missing:
                raise PolicyError(f"{name}.{missing[0]} has no target")
            for key, value in targets.items():
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise PolicyError(f"{name}.{key} must be a positive whole number of seconds, got {value!r}")
            object.__setattr__(self, f"{name}_targets", MappingProxyType(dict(targets)))
        if not 0 < self.warning_fraction < 1:
            raise PolicyError(f"warning_fraction must be between 0 and 1, got {self.warning_fraction!r}")

    def first_response_seconds(self, channel: str) -> int:
        """Business seconds allowed before the first acknowledgement of a demand on ``channel``."""
        try:
            return self.first_response_targets[channel]
        except KeyError:
            raise PolicyError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}") from None

    def resolution_seconds(self, complexity: str) -> int:
        """Business seconds allowed to resolve a demand of ``complexity``."""
        try:
            return self.resolution_targets[complexity]
        except KeyError:
            raise PolicyError(
                f"unknown complexity {complexity!r}; expected one of {', '.join(COMPLEXITIES)}"
            ) from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for the API, in business seconds (what clocks actually use)."""
        return {
            "first_response_seconds": {c: self.first_response_targets[c] for c in CHANNELS},
            "resolution_seconds": {c: self.resolution_targets[c] for c in COMPLEXITIES},
            "warning_fraction": self.warning_fraction,
            "seconds_per_working_day": self.seconds_per_working_day,
        }


def _duration(raw: Any, where: str, path: Path, seconds_per_working_day: int) -> int:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PolicyError(
            f"{path}: {where} must be a mapping with exactly one of "
            f"{' or '.join(DURATION_UNITS)}, got {raw!r}"
        )
    ((unit, value),) = raw.items()
    if unit not in DURATION_UNITS:
        raise PolicyError(f"{path}: {where}.{unit}: unknown unit (expected {' or '.join(DURATION_UNITS)})")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise PolicyError(f"{path}: {where}.{unit} must be a positive number, got {value!r}")
    seconds = value * seconds_per_working_day if unit == "working_days" else value
    if seconds != int(seconds):
        raise PolicyError(f"{path}: {where}.{unit}: {value!r} is not a whole number of business seconds")
    return int(seconds)


def _targets(
    data: dict[str, Any], section: str, members: tuple[str, ...], path: Path, seconds_per_working_day: int
) -> dict[str, int]:
    raw = data.get(section)
    if not isinstance(raw, dict) or not raw:
        raise PolicyError(f"{path}: {section} must be a non-empty mapping of targets, got {raw!r}")
    for key in raw:
        if key != "default" and key not in members:
            raise PolicyError(
                f"{path}: {section}.{key}: unknown key (expected 'default' or one of {', '.join(members)})"
            )
    parsed = {key: _duration(value, f"{section}.{key}", path, seconds_per_working_day) for key, value in raw.items()}
    out: dict[str, int] = {}
    for member in members:
        if member in parsed:
            out[member] = parsed[member]
        elif "default" in parsed:
            out[member] = parsed["default"]
        else:
            raise PolicyError(f"{path}: {section}.{member} is missing and there is no {section}.default")
    return out


def load_policy(path: Path | str, seconds_per_working_day: int = DEFAULT_SECONDS_PER_WORKING_DAY) -> SlaPolicy:
    """Read and validate the policy file; operators edit it, so every mistake is named."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read SLA policy: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: top level must be a mapping with first_response, resolution, warning_fraction")
    allowed = {"first_response", "resolution", "warning_fraction"}
    for key in data:
        if key not in allowed:
            raise PolicyError(f"{path}: {key}: unknown key (expected {', '.join(sorted(allowed))})")
    for key in sorted(allowed):
        if key not in data:
            raise PolicyError(f"{path}: {key} is missing")
    fraction = data["warning_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise PolicyError(f"{path}: warning_fraction must be a number between 0 and 1 (exclusive), got {fraction!r}")
    return SlaPolicy(
        first_response_targets=_targets(data, "first_response", CHANNELS, path, seconds_per_working_day),
        resolution_targets=_targets(data, "resolution", COMPLEXITIES, path, seconds_per_working_day),
        warning_fraction=float(fraction),
        seconds_per_working_day=seconds_per_working_day,
    )


@dataclass
class Clock:
    """One SLA clock of a demand, in business time; every field is plain and persistable.

    ``status`` is "running" or "paused" while open, "met"/"breached" once stopped; a clock that
    passed its target is "breached" for good (also while it keeps running, and after a reopen).
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
        if self.kind != "resolution" or self.stopped_at is None:
            return False
        self.stopped_at = None
        self.running_since = at
        if self.status != "breached":
            self.status = "running"
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
