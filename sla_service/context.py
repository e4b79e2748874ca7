"""The SLA service's rules of time: calendar, policy and the current instant, chosen once per process.

Nothing is read at import. Processes resolve the context from their settings (``SLA_POLICY_PATH``,
``CALENDAR_OVERRIDES_PATH``, ``SERVICE_HOURS``) on first use; tests and benchmarks :func:`install` their own, e.g. a
calendar whose service hours cover the whole day, a policy with targets of a few seconds, or a
controllable clock so a timer can be shown to fire at its deadline without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.calendar import BusinessCalendar, load_calendar
from shared.config import Settings
from sla_service.policy import SlaPolicy, load_policy

# Share of demands that must meet each promise (district plan: 90 % resolved); reported by the summary.
COMPLIANCE_TARGET = 0.9


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SlaContext:
    """What every clock computation needs: which days and hours count, the targets, and "now"."""

    calendar: BusinessCalendar
    policy: SlaPolicy
    now: Callable[[], datetime] = field(default=utc_now)


def load_context(settings: Settings) -> SlaContext:
    """The calendar and the validated policy named by ``settings`` (a bad policy file raises PolicyError)."""
    calendar = load_calendar(settings.calendar_overrides_path, settings.service_hours)
    return SlaContext(calendar, load_policy(settings.sla_policy_path, calendar.seconds_per_working_day))


_active: SlaContext | None = None


def install(context: SlaContext | None) -> None:
    """Make ``context`` the process's context (None: resolve again from the environment on next use)."""
    global _active
    _active = context


def installed() -> SlaContext | None:
    return _active


def current() -> SlaContext:
    """The process's context: the installed one, else loaded from the environment once."""
    global _active
    if _active is None:
        _active = load_context(Settings.from_env())
    return _active
