"""SLA's composition root: the one :class:`Context` its web app, its worker and its tests are built from.

The context carries what every clock computation needs besides the database: which days and hours count
(the calendar), the targets (the policy) and "now". Processes load the first two from their settings
(``SLA_POLICY_PATH``, ``CALENDAR_OVERRIDES_PATH``, ``SERVICE_HOURS``) once, at start, so a bad policy or
calendar stops the process there; tests and benchmarks pass their own instead -- a calendar whose service
hours cover the whole day, targets of a few seconds, or a controllable "now" so a timer can be shown to
fire at its deadline without waiting for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.calendar import BusinessCalendar
from shared.config import Settings
from shared.context import ServiceContext, database
from shared.contracts.events import DEMAND_EVENTS
from shared.worker import WorkerSpec
from sla_service import reference
from sla_service.domain.policy import SlaPolicy
from sla_service.handlers import handlers
from sla_service.model import metadata
from sla_service.timers import timers

SERVICE = "sla"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context(ServiceContext):
    """The service context plus SLA's rules of time: the calendar, the policy and the current instant."""

    calendar: BusinessCalendar
    policy: SlaPolicy
    now: Callable[[], datetime] = field(default=utc_now)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Context:
    """Build the context once: ``overrides`` (``calendar``, ``policy``, ``now``) replace what ``settings``
    would give; a bad policy file raises PolicyError here."""
    unknown = set(overrides) - {"calendar", "policy", "now"}
    if unknown:
        raise TypeError(f"bootstrap() takes no override {', '.join(sorted(unknown))}")
    settings = settings or Settings.from_env()
    calendar = overrides.pop("calendar", None) or reference.working_calendar(settings)
    policy = overrides.pop("policy", None) or reference.policy_for(settings, calendar)
    engine, sessions = database(SERVICE, settings, metadata)
    return Context(service=SERVICE, settings=settings, metadata=metadata, engine=engine, sessions=sessions,
                   calendar=calendar, policy=policy, **overrides)


def worker_spec(ctx: Context) -> WorkerSpec:
    """SLA's worker: follows demand.events, fires warnings and breaches on time, relays its outbox."""
    return WorkerSpec(service=SERVICE, metadata=metadata, topics=[DEMAND_EVENTS], handlers=handlers(ctx),
                      timers=timers(ctx))
