"""Intake on its own, in-process: its Flask test client, its real worker loop and a way to publish the
events other services would, so intake's rules are tested without depending on routing and sla.

Built like every process of intake: one context from ``bootstrap()``, the app from it (``app.create``), the
worker from ``worker_spec(ctx)``. ``intake`` runs on the embedded default, and on PostgreSQL + Kafka too for a
test marked ``both_backends``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from intake_service import app
from intake_service.bootstrap import Context, bootstrap, worker_spec
from intake_service.model import metadata, outbox
from shared.config import Settings
from shared.contracts.events import new_event, topic_of
from shared.messaging.backends import make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from shared.worker import Worker
from tests.harness import prepare, step_until, token


@dataclass
class Intake:
    settings: Settings
    ctx: Context
    client: Any
    worker: Worker

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    def auth(self, role: str, subject: str, street: str | None = None) -> dict[str, str]:
        return token(self.settings, role, subject, street)

    def grid(self, street: str = "wujiaochang", subject: str | None = None) -> dict[str, str]:
        return self.auth("grid_worker", subject or f"grid-{street}-01", street)

    def counts(self) -> dict[str, int]:
        """Rows in intake's tables: what a refused request must not have changed."""
        with self.engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
                    for name in ("demands", "outbox", "enterprises", "timeline")}

    def outbox_events(self) -> list[dict[str, Any]]:
        """The events waiting in intake's outbox, decoded (type and data)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox).order_by(outbox.c.id)).all()
        return [{"type": json.loads(r.headers)["ce_type"], "data": json.loads(r.value)} for r in rows]

    def publish(self, type_: str, data: dict[str, Any], source: str = "/test") -> str:
        """Put an event on the bus as another service would; returns its id."""
        data = {"at": datetime.now(UTC), **data}
        event = new_event(type_, data, source=source)
        message = to_message(event)
        producer = make_producer(self.settings, "test")
        try:
            producer.send_batch([OutgoingMessage(topic_of(event), message.key, dict(message.headers),
                                                 message.value)])
        finally:
            producer.close()
        return event.get_id()

    def until(self, predicate: Any, timeout_s: float = 30.0) -> Any:
        """Step intake's worker until ``predicate()`` is truthy."""
        return step_until(predicate, lambda: self.worker.step(0.02), timeout_s)


def make_intake(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Intake:
    settings = prepare(env, monkeypatch, ("intake",))
    ctx = bootstrap(settings)
    web = app.create(ctx=ctx)
    web.testing = True
    return Intake(settings, ctx, web.test_client(), Worker(worker_spec(ctx), ctx))


@pytest.fixture
def intake(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Intake]:
    """Intake alone, on the backend(s) of ``env``."""
    svc = make_intake(env, monkeypatch)
    try:
        yield svc
    finally:
        svc.worker.close()
