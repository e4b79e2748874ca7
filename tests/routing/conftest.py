"""Routing on its own: its web app, its real worker loop, and a way to put events on the bus as intake and
sla would. Tests drive routing with exactly the events they need, independent of the other services."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from routing_service import worker as routing_worker
from routing_service.model import Assignment, Officer, outbox
from shared.config import Settings
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS, CloudEvent, new_event, topic_of
from shared.db import unit_of_work
from shared.messaging.backends import make_consumer, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import from_message, to_message
from tests.conftest import prepare, token

ROSTER = Path(__file__).with_name("roster.yaml")
OFFICER_1, OFFICER_2 = "com-wujiaochang-1", "com-wujiaochang-2"
USCC = "91310110MA4PFF8Q3P"


def submitted(street: str = "wujiaochang", channel: str = "grid", category: str = "taxation", key: bool = False,
              chief: str | None = None, demand_id: str | None = None, complexity: str = "simple") -> dict[str, Any]:
    """The data of a ``submitted`` event as intake sends it."""
    now = datetime.now(UTC)
    return {"demand_id": demand_id or str(uuid.uuid4()), "channel": channel, "street": street, "grid": None,
            "category": category, "complexity": complexity, "title": "开具发票遇到困难",
            "enterprise": {"uscc": USCC, "name": "上海定澜智能装备有限公司", "key_enterprise": key,
                           "chief_officer_id": chief},
            "reported_at": now, "received_at": now}


def clock(demand_id: str, kind: str, status: str = "running", target_at: datetime | None = None,
          used: float = 0.0, target: int = 28_800, at: datetime | None = None) -> dict[str, Any]:
    """The data of an sla clock event."""
    return {"demand_id": demand_id, "street": "wujiaochang", "channel": "grid", "category": "taxation",
            "kind": kind, "status": status, "target_at": target_at, "business_seconds_used": used,
            "business_seconds_target": target, "key_enterprise": False, "at": at or datetime.now(UTC)}


@dataclass
class Routing:
    """Routing in-process: ``client`` (Flask), ``worker`` (the real loop), ``publish`` (as another service)."""

    settings: Settings
    client: Any
    worker: Any
    producer: Any
    audit: Any
    seen: list[CloudEvent] = field(default_factory=list)

    def auth(self, role: str, subject: str, street: str | None = None) -> dict[str, str]:
        return token(self.settings, role, subject, street)

    def officer_auth(self, subject: str = OFFICER_1) -> dict[str, str]:
        return self.auth("officer", subject)

    def supervisor_auth(self, street: str = "wujiaochang") -> dict[str, str]:
        return self.auth("supervisor", f"sup-{street}", street)

    def publish(self, type_: str, data: dict[str, Any], event: CloudEvent | None = None) -> CloudEvent:
        event = event or new_event(type_, data, source="/tests")
        message = to_message(event)
        self.producer.send_batch([OutgoingMessage(topic_of(event), message.key, dict(message.headers),
                                                  message.value)])
        return event

    def submit(self, **kwargs: Any) -> str:
        """Publish a submitted demand and let routing handle it; returns the demand id."""
        data = submitted(**kwargs)
        self.publish("yangpu.demand.submitted.v1", data)
        self.pump()
        return data["demand_id"]

    def pump(self, rounds: int = 3, timeout_s: float = 30.0) -> None:
        """Step the worker until a few rounds in a row did nothing (everything handled and relayed)."""
        deadline, quiet = time.monotonic() + timeout_s, 0
        while quiet < rounds:
            quiet = quiet + 1 if self.worker.step(0.05) == 0 else 0
            if time.monotonic() > deadline:
                raise TimeoutError("routing's worker did not go quiet")

    @contextmanager
    def session(self) -> Iterator[Session]:
        with unit_of_work(self.worker.sessions) as session:
            yield session

    def assignment(self, demand_id: str) -> Assignment:
        with self.session() as s:
            return s.get(Assignment, demand_id)

    def officer(self, officer_id: str) -> Officer:
        with self.session() as s:
            return s.get(Officer, officer_id)

    def outbox_events(self) -> list[tuple[str, dict[str, Any]]]:
        """Events written to routing's outbox and not relayed yet: (type, data)."""
        with self.session() as s:
            rows = s.execute(select(outbox).order_by(outbox.c.id)).all()
        return [(json.loads(r.headers)["ce_type"], json.loads(r.value)) for r in rows]

    def outbox_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(outbox))

    def clear_outbox(self) -> None:
        with self.session() as s:
            s.execute(delete(outbox))

    def events(self, type_: str | None = None, demand_id: str | None = None) -> list[dict[str, Any]]:
        """Every event on the bus so far (read by an audit consumer group), filtered; their data.

        Reads until two polls in a row come back empty once the group holds its partitions (on Kafka a new
        group sees nothing until it has joined).
        """
        kafka = getattr(self.audit, "consumer", None)
        deadline, empty = time.monotonic() + 30, 0
        while empty < 2:
            records = self.audit.poll(0.2)
            if records:
                self.seen += [from_message(r.as_kafka_message()) for r in records]
                self.audit.commit(records)
                empty = 0
            elif kafka is None or kafka.assignment():
                empty += 1
            if time.monotonic() > deadline:
                raise TimeoutError("the audit consumer did not join its group")
        return [e.get_data() for e in self.seen
                if (type_ is None or e.get_type() == type_) and (demand_id is None or e.get_subject() == demand_id)]

    def act(self, demand_id: str, action: str, body: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Any:
        return self.client.post(f"/api/v1/demands/{demand_id}/{action}", json=body or {},
                                headers=headers if headers is not None else self.officer_auth())


def make_routing(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Routing:
    settings = prepare({**env, "ROSTER_PATH": str(ROSTER)}, monkeypatch, ("routing",))
    from routing_service.app import create
    from shared.worker import Worker

    # The retry timer runs on every step in tests; tests of "which path refilled" stop it explicitly.
    monkeypatch.setattr(routing_worker.SPEC.timers[0], "interval_s", 0.0)
    monkeypatch.setattr(routing_worker.SPEC.timers[0], "_next", 0.0)
    app = create(settings)
    app.testing = True
    return Routing(settings=settings, client=app.test_client(), worker=Worker(routing_worker.SPEC, settings),
                   producer=make_producer(settings, "tests"),
                   audit=make_consumer(settings, f"audit-{uuid.uuid4().hex[:8]}", [DEMAND_EVENTS, SLA_EVENTS]))


@pytest.fixture
def routing(embedded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Routing]:
    """Routing alone on the embedded backend (fast)."""
    r = make_routing(embedded, monkeypatch)
    try:
        yield r
    finally:
        r.audit.close()
        r.worker.close()


@pytest.fixture
def routing_any(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Routing]:
    """Routing alone, on the embedded backend and on PostgreSQL + Kafka."""
    r = make_routing(backend_env, monkeypatch)
    try:
        yield r
    finally:
        r.audit.close()
        r.worker.close()

