"""Intake's composition root: the one :class:`Context` its web app, its worker and the tests are built from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from intake_service.domain.policy import RosterOfficer
from intake_service.handlers import handlers
from intake_service.model import metadata
from intake_service.reference import load_roster
from intake_service.timers import timers
from shared.config import Settings
from shared.context import ServiceContext, database
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS
from shared.worker import WorkerSpec

SERVICE = "intake"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Context(ServiceContext):
    """Intake's settings and database, "now" (when a demand is received; when the resend sweep looks), and the
    roster's officers (which streets a token's officer serves)."""

    now: Callable[[], datetime] = field(default=utc_now)
    roster: Mapping[str, RosterOfficer] = field(default_factory=dict)


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Context:
    """Build intake's context once per process; ``overrides`` replace any of its fields (a test's "now")."""
    settings = settings or Settings.from_env()
    parts: dict[str, Any] = {"service": SERVICE, "settings": settings, "metadata": metadata}
    if "engine" not in overrides:
        parts["engine"], parts["sessions"] = database(SERVICE, settings, metadata)
    if "roster" not in overrides and settings.roster_path.exists():
        parts["roster"] = load_roster(settings.roster_path)
    return Context(**{**parts, **overrides})


def worker_spec(ctx: Context) -> WorkerSpec:
    """What intake's worker runs: the projection of demand.events and sla.events, and the resend sweep."""
    return WorkerSpec(service=SERVICE, metadata=ctx.metadata, topics=[DEMAND_EVENTS, SLA_EVENTS],
                      handlers=handlers(ctx), timers=timers(ctx))
