"""Fixtures of the SLA tests: an injected context (calendar, policy, controllable "now") and an SLA harness.

The harness runs the sla service alone -- its web app, its real worker loop (consumer, relay, timer) and a
producer standing in for intake and routing -- on the backend it is given, so these tests do not depend on
the other services' handlers. An observer consumer group reads what sla published on ``sla.events``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from shared.calendar import SHANGHAI, BusinessCalendar
from shared.config import Settings
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS, CloudEvent, load_data, new_event
from shared.db import make_engine, session_factory
from shared.messaging.backends import make_consumer, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import from_message, to_message
from shared.worker import Worker
from sla_service import context as sla_context
from sla_service.app import create
from sla_service.model import metadata
from sla_service.policy import load_policy
from sla_service.worker import SPEC
from tests.conftest import prepare, token

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "deploy" / "sla_policy.yaml"

# Targets of a few business seconds, so a clock breaches while a test watches.
TINY_POLICY = """
warning_fraction: 0.8
first_response:
  default: {business_seconds: 10}
  online_helpdesk: {business_seconds: 2}
resolution:
  simple: {business_seconds: 20}
  complex: {business_seconds: 40}
  difficult: {business_seconds: 80}
"""


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


class FakeNow:
    """A settable "now" for the SLA context: timers fire when the test says time has come."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


def all_day_calendar(tmp_path: Path, around: date) -> BusinessCalendar:
    """A calendar where every instant of the days around ``around`` counts (tests run at any hour)."""
    days = [around + timedelta(days=i) for i in range(-3, 10)]
    overrides = tmp_path / "calendar_overrides.yaml"
    overrides.write_text("workdays: [" + ", ".join(d.isoformat() for d in days) + "]\n", encoding="utf-8")
    return BusinessCalendar(overrides, day_start=dtime(0), day_end=dtime(23, 59, 59, 999999))


@pytest.fixture
def real_rules() -> Iterator[FakeNow]:
    """China's calendar and the shipped policy, with "now" set by the test (hand-worked dates in 2026)."""
    now = FakeNow(sh(2026, 3, 2, 9))
    cal = BusinessCalendar()
    sla_context.install(sla_context.SlaContext(cal, load_policy(SHIPPED_POLICY, cal.seconds_per_working_day), now))
    yield now
    sla_context.install(None)


def tiny_context(tmp_path: Path, now: Callable[[], datetime]) -> sla_context.SlaContext:
    """Every instant of the days around today counts, and targets are a few seconds long."""
    cal = all_day_calendar(tmp_path, now().astimezone(SHANGHAI).date())
    policy_path = tmp_path / "sla_policy.yaml"
    policy_path.write_text(TINY_POLICY, encoding="utf-8")
    return sla_context.SlaContext(cal, load_policy(policy_path, cal.seconds_per_working_day), now)


@pytest.fixture
def tiny_rules(tmp_path: Path) -> Iterator[FakeNow]:
    """Tiny targets on an all-day calendar; "now" starts at the real now and moves when the test says."""
    now = FakeNow(datetime.now(UTC))
    sla_context.install(tiny_context(tmp_path, now))
    yield now
    sla_context.install(None)


@pytest.fixture
def tiny_rules_live(tmp_path: Path) -> Iterator[None]:
    """Tiny targets on an all-day calendar, in real time."""
    sla_context.install(tiny_context(tmp_path, sla_context.utc_now))
    yield
    sla_context.install(None)


@dataclass
class Published:
    type: str
    data: dict[str, Any]
    event: CloudEvent


@dataclass
class SlaHarness:
    """The sla service on one backend, fed by a stand-in producer and watched by an observer group."""

    settings: Settings
    worker: Worker
    client: Any
    sessions: sessionmaker[Session]
    producer: Any
    observer: Any
    seen: list[Published] = field(default_factory=list)

    def auth(self, role: str, subject: str = "someone", street: str | None = None) -> dict[str, str]:
        return token(self.settings, role, subject, street)

    def publish(self, type_: str, **data: Any) -> CloudEvent:
        event = new_event(type_, data, source="/test")
        self.republish(event)
        return event

    def republish(self, event: CloudEvent) -> None:
        """Put an event on demand.events (again: a redelivery keeps its id)."""
        message = to_message(event)
        self.producer.send_batch([OutgoingMessage(DEMAND_EVENTS, message.key, dict(message.headers), message.value)])

    def submit(self, demand_id: str | None = None, reported_at: datetime | None = None, channel: str = "grid",
               complexity: str = "simple", street: str = "wujiaochang", category: str = "taxation",
               key: bool = False) -> str:
        demand_id = demand_id or str(uuid.uuid4())
        at = reported_at or datetime.now(UTC)
        self.publish("yangpu.demand.submitted.v1", demand_id=demand_id, channel=channel, street=street,
                     category=category, complexity=complexity, title="开票问题",
                     enterprise={"uscc": "91310110MA1G8XXXXX", "name": "某公司", "key_enterprise": key},
                     reported_at=at, received_at=at)
        return demand_id

    def act(self, action: str, demand_id: str, at: datetime, street: str = "wujiaochang", **extra: Any) -> CloudEvent:
        return self.publish(f"yangpu.demand.{action}.v1", demand_id=demand_id, street=street, actor_id="officer-1",
                     at=at, **extra)

    def pump(self, timeout_s: float = 30.0) -> None:
        """Step the worker until a few rounds in a row find nothing (consumer joined, bus drained)."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while quiet < 3:
            work = self.worker.step(0.02)
            quiet = quiet + 1 if work == 0 and self._assigned(self.worker.processor.consumer) else 0
            if time.monotonic() > deadline:
                raise TimeoutError("the sla worker did not go quiet")
        self.watch()

    def watch(self, timeout_s: float = 30.0) -> list[Published]:
        """Read everything sla published so far (the relay has run: pump first)."""
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while quiet < 2:
            records = self.observer.poll(0.05)
            if records:
                self.observer.commit(records)
                for r in records:
                    event = from_message(r.as_kafka_message())
                    self.seen.append(Published(event.get_type(), load_data(event), event))
                quiet = 0
            elif self._assigned(self.observer):
                quiet += 1
            if time.monotonic() > deadline:
                raise TimeoutError("the observer did not catch up")
        return self.seen

    def events(self, kind: str, demand_id: str | None = None, clock: str | None = None) -> list[Published]:
        """Published sla events of one kind ("warning", "breached", "clock_updated")."""
        return [p for p in self.seen if p.type == f"yangpu.sla.{kind}.v1"
                and (demand_id is None or p.data["demand_id"] == demand_id)
                and (clock is None or p.data["kind"] == clock)]

    def restart_worker(self) -> None:
        self.worker.close()
        self.worker = Worker(SPEC, self.settings)

    @staticmethod
    def _assigned(consumer: Any) -> bool:
        kafka = getattr(consumer, "consumer", None)
        return kafka is None or bool(kafka.assignment())

    def close(self) -> None:
        self.worker.close()
        self.observer.close()
        self.producer.close()


def make_harness(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> SlaHarness:
    assert sla_context.installed() is not None, "request real_rules or tiny_rules before the harness"
    settings = prepare(env, monkeypatch, ("sla",))
    app = create(settings)
    app.testing = True
    engine = make_engine(settings.database_url("sla"))
    return SlaHarness(
        settings=settings, worker=Worker(SPEC, settings), client=app.test_client(),
        sessions=session_factory(engine, metadata), producer=make_producer(settings, "test-stand-in"),
        observer=make_consumer(settings, f"test-observer-{uuid.uuid4().hex[:6]}", [SLA_EVENTS]),
    )


@pytest.fixture
def sla(embedded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[SlaHarness]:
    """The harness on the embedded default (most tests). Request a rules fixture before it."""
    harness = make_harness(embedded, monkeypatch)
    try:
        yield harness
    finally:
        harness.close()


@pytest.fixture
def sla_both(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[SlaHarness]:
    """The harness on each backend in turn: embedded, then PostgreSQL + Kafka."""
    harness = make_harness(backend_env, monkeypatch)
    try:
        yield harness
    finally:
        harness.close()
