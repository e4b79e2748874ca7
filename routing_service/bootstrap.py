"""Routing's composition root: the one context its web app, its worker and the tests are built from.

Built once per process: the database, and the per-process cache of the roster's static facts that every
routing decision reads to choose which officer rows to lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing_service.handlers import handlers
from routing_service.model import metadata
from routing_service.repository import RelevanceCache
from routing_service.timers import timers
from shared.config import Settings
from shared.context import ServiceContext, database
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS
from shared.worker import WorkerSpec

SERVICE = "routing"


@dataclass(frozen=True)
class Context(ServiceContext):
    """The service's context and what its rules need: the relevance cache, and how often the worker offers
    the unassigned queues again (tests set 0: on every step)."""

    relevance: RelevanceCache = field(default_factory=RelevanceCache)
    retry_interval_s: float = 2.0


def bootstrap(settings: Settings | None = None, **overrides: Any) -> Context:
    """The process's context from ``settings`` (the environment by default); ``overrides`` replace fields."""
    settings = settings or Settings.from_env()
    engine, sessions = database(SERVICE, settings, metadata)
    return Context(service=SERVICE, settings=settings, metadata=metadata, engine=engine, sessions=sessions,
                   **overrides)


def worker_spec(ctx: Context) -> WorkerSpec:
    """Assign submitted demands, follow sla.events, retry the unassigned queues, relay the outbox."""
    return WorkerSpec(service=SERVICE, metadata=metadata, topics=[DEMAND_EVENTS, SLA_EVENTS],
                      handlers=handlers(ctx), timers=timers(ctx))
