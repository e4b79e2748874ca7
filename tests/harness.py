"""The one test harness: any of the services in-process on one backend, built by their own bootstraps.

``make_harness(env, monkeypatch, services, **overrides)`` migrates and seeds the databases, builds each
service's context with ``<svc>_service.bootstrap.bootstrap(settings, **overrides[svc])`` (a test passes a
calendar, a policy or "now" there), its Flask test client and its real worker loop. A stand-in producer
puts events on the bus as another service would, and an audit consumer reads what was published.
Service test packages add their own vocabulary (``submit``, ``act``...) by subclassing :class:`Harness`.
"""

from __future__ import annotations

import importlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from devstack.seed import seed
from shared.auth import issue_token
from shared.config import SERVICES, Settings
from shared.contracts.events import TOPICS, CloudEvent, new_event, topic_of
from shared.db import unit_of_work
from shared.messaging.backends import ensure_topics, make_consumer, make_lag_reader, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import from_message, to_message
from shared.worker import Worker

H = TypeVar("H", bound="Harness")


def step_until(predicate: Callable[[], Any], step: Callable[[], Any] | None = None, timeout_s: float = 30.0,
               what: str = "condition", every_s: float = 0.1) -> Any:
    """Call ``step()`` (default: sleep ``every_s``) until ``predicate()`` returns something truthy; return it.

    TimeoutError naming ``what`` after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout_s:.0f} s")
        if step is None:
            time.sleep(every_s)
        else:
            step()


def token(settings: Settings, role: str, subject: str, street: str | None = None) -> dict[str, str]:
    """Authorization header for a caller."""
    return {"Authorization": f"Bearer {issue_token(role, subject, street, secret=settings.jwt_secret)}"}


def prepare(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, services: tuple[str, ...] = SERVICES) -> Settings:
    """Put ``env`` in place for the test, migrate and seed ``services``, and create the topics."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    seed(settings, services)
    ensure_topics(settings)
    return settings


def _assigned(consumer: Any) -> bool:
    """On Kafka a consumer sees nothing until it has joined its group; the embedded log has no such wait."""
    kafka = getattr(consumer, "consumer", None)
    return kafka is None or bool(kafka.assignment())


@dataclass
class Harness:
    settings: Settings
    contexts: dict[str, Any]
    clients: dict[str, Any]
    workers: dict[str, Worker]
    producer: Any
    audit: Any
    seen: list[CloudEvent] = field(default_factory=list)
    lag_readers: dict[str, Any] = field(default_factory=dict)

    # --- one service: the common case ---------------------------------------------------------------

    def _only(self, things: dict[str, Any]) -> Any:
        if len(things) != 1:
            raise AttributeError(f"this harness runs {sorted(things)}: name the service")
        return next(iter(things.values()))

    @property
    def ctx(self) -> Any:
        return self._only(self.contexts)

    @property
    def client(self) -> Any:
        return self._only(self.clients)

    @property
    def worker(self) -> Worker:
        return self._only(self.workers)

    # --- callers and events ---------------------------------------------------------------------------

    def auth(self, role: str, subject: str = "someone", street: str | None = None) -> dict[str, str]:
        return token(self.settings, role, subject, street)

    def publish(self, type_: str, data: dict[str, Any], source: str = "/test") -> CloudEvent:
        """Put a new event on the bus, as the service that owns its type would."""
        event = new_event(type_, data, source=source)
        self.republish(event)
        return event

    def republish(self, event: CloudEvent) -> None:
        """Put ``event`` on the bus (again: a redelivery keeps its id)."""
        message = to_message(event)
        self.producer.send_batch([OutgoingMessage(topic_of(event), message.key, dict(message.headers),
                                                  message.value)])

    def read(self, type_: str | None = None, demand_id: str | None = None, timeout_s: float = 30.0) -> list[CloudEvent]:
        """Every event published so far (both topics, read by an audit group), filtered by type and demand."""
        deadline, quiet = time.monotonic() + timeout_s, 0
        while quiet < 2:
            records = self.audit.poll(0.1)
            if records:
                self.audit.commit(records)
                self.seen += [from_message(r.as_kafka_message()) for r in records]
                quiet = 0
            elif _assigned(self.audit):
                quiet += 1
            if time.monotonic() > deadline:
                raise TimeoutError("the audit consumer did not catch up")
        return [e for e in self.seen
                if (type_ is None or e.get_type() == type_) and (demand_id is None or e.get_subject() == demand_id)]

    # --- the workers ----------------------------------------------------------------------------------

    def step(self, timeout_s: float = 0.02) -> int:
        return sum(w.step(timeout_s) for w in self.workers.values())

    def pump(self, timeout_s: float = 30.0, quiet_rounds: int = 3) -> None:
        """Step every worker until a few rounds in a row found nothing to do once every consumer has joined,
        and every group (but a halted one) has handled all its topics hold.

        Quiet polls alone are not enough on Kafka: a record the broker has acknowledged may reach a consumer's
        fetch a little later, and a test would then read the state before the event it just published."""
        deadline, quiet = time.monotonic() + timeout_s, 0
        while quiet < quiet_rounds or not self._caught_up():
            work = self.step(0.05)
            joined = all(_assigned(w.processor.consumer) for w in self.workers.values())
            quiet = quiet + 1 if work == 0 and joined else 0
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not go quiet")

    def _caught_up(self) -> bool:
        """No group of a running, unhalted worker has anything left on its topics (the bus's own count)."""
        for name, worker in self.workers.items():
            if worker.processor.halted is not None:
                continue
            reader = self.lag_readers.get(name)
            if reader is None:
                reader = self.lag_readers[name] = make_lag_reader(self.settings, worker.spec.group, worker.spec.topics)
            if any(reader.lag().values()):
                return False
        return True

    def until(self, predicate: Callable[[], Any], timeout_s: float = 30.0) -> Any:
        """Step the workers until ``predicate()`` returns something truthy; return it."""
        return step_until(predicate, self.step, timeout_s)

    def restart_worker(self, service: str | None = None) -> None:
        """A new worker process for ``service``, same context: it resumes from the committed offsets."""
        name = service or self._only({k: k for k in self.workers})
        self.workers[name].close()
        module = importlib.import_module(f"{name}_service.bootstrap")
        ctx = self.contexts[name]
        self.workers[name] = Worker(module.worker_spec(ctx), ctx)

    # --- the databases --------------------------------------------------------------------------------

    @contextmanager
    def session(self, service: str | None = None) -> Iterator[Session]:
        ctx = self.contexts[service] if service else self.ctx
        with unit_of_work(ctx.sessions) as session:
            yield session

    def outbox(self, service: str | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Events waiting in a service's outbox, not relayed yet: (type, data)."""
        ctx = self.contexts[service] if service else self.ctx
        table = ctx.metadata.tables["outbox"]
        with ctx.engine.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.id)).all()
        return [(json.loads(r.headers)["ce_type"], json.loads(r.value)) for r in rows]

    def close(self) -> None:
        for reader in self.lag_readers.values():
            reader.close()
        for worker in self.workers.values():
            worker.close()
        self.audit.close()
        self.producer.close()


def make_harness(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, services: tuple[str, ...] = SERVICES,
                 cls: type[H] = Harness, **overrides: dict[str, Any]) -> H:  # type: ignore[assignment]
    """``services`` in-process on the backend of ``env``; ``overrides[svc]`` go to that service's bootstrap."""
    settings = prepare(env, monkeypatch, services)
    contexts, clients, workers = {}, {}, {}
    for service in services:
        bootstrap = importlib.import_module(f"{service}_service.bootstrap")
        app_module = importlib.import_module(f"{service}_service.app")
        ctx = bootstrap.bootstrap(settings, **overrides.get(service, {}))
        app = app_module.create(ctx=ctx)
        app.testing = True
        contexts[service], clients[service] = ctx, app.test_client()
        workers[service] = Worker(bootstrap.worker_spec(ctx), ctx)
    return cls(settings=settings, contexts=contexts, clients=clients, workers=workers,
               producer=make_producer(settings, "test-stand-in"),
               audit=make_consumer(settings, f"test-audit-{uuid.uuid4().hex[:8]}", list(TOPICS)))
