"""Nothing is lost and nothing is applied twice when a worker is SIGKILLed mid-stream (real Kafka + PostgreSQL)."""

from __future__ import annotations

import collections
import time
import uuid

import pytest
from kafka import KafkaConsumer
from sqlalchemy import create_engine, text

from devstack.stack import Stack
from shared.config import Settings
from shared.contracts.events import DEMAND_EVENTS
from shared.messaging.codec import KafkaMessage, from_message
from tests.harness import make_harness
from tests.helpers import demand_body

pytestmark = pytest.mark.production
DEMANDS = 120


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _events_by_type(settings: Settings) -> dict[str, dict[str, set[str]]]:
    """Distinct event ids per type per demand, read from the start of the topic."""
    consumer = KafkaConsumer(settings.topic(DEMAND_EVENTS), bootstrap_servers=settings.kafka_bootstrap_servers,
                             group_id=f"audit-{uuid.uuid4().hex}", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=3000)
    seen: dict[str, dict[str, set[str]]] = collections.defaultdict(lambda: collections.defaultdict(set))
    try:
        for record in consumer:
            event = from_message(KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value))
            seen[event.get_type()][event.get_subject()].add(event.get_id())
    finally:
        consumer.close()
    return seen


def test_sigkill_of_workers_loses_nothing_and_applies_nothing_twice(production, monkeypatch, tmp_path):
    suite = make_harness(production, monkeypatch)  # seeds the databases, creates topics; only its web clients are used
    settings = suite.settings
    for w in suite.workers.values():
        w.close()
    stack = Stack(production, web=False, log_dir=tmp_path / "logs")
    stack.start()
    try:
        grid = suite.auth("grid_worker", "grid-wjc-01", "wujiaochang")
        ids = []
        for i in range(DEMANDS):
            resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(title=f"需求 {i}"), headers=grid)
            assert resp.status_code == 201
            ids.append(resp.get_json()["id"])
            if i == DEMANDS // 3:
                stack.kill("routing-worker")  # mid-stream: some demands routed, some not
                stack.start_worker("routing")
            if i == 2 * DEMANDS // 3:
                stack.kill("intake-worker")  # mid-relay: the outbox may publish a batch twice
                stack.kill("sla-worker")
                stack.start_worker("intake")
                stack.start_worker("sla")
        routing_url = settings.database_url("routing")
        sla_url = settings.database_url("sla")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if (_count(routing_url, "SELECT count(*) FROM assignments") == DEMANDS
                    and _count(sla_url, "SELECT count(*) FROM clocks") == 2 * DEMANDS):
                break
            time.sleep(0.5)
        assert _count(routing_url, "SELECT count(*) FROM assignments") == DEMANDS
        assert _count(sla_url, "SELECT count(*) FROM clocks") == 2 * DEMANDS
        # each submitted event applied once: the officers' open counts add up to the assignments
        assert _count(routing_url, "SELECT coalesce(sum(open_count), 0) FROM officers") == _count(
            routing_url, "SELECT count(*) FROM assignments WHERE officer_id IS NOT NULL")
        time.sleep(2)  # let the relays publish what the handlers wrote
        events = _events_by_type(settings)
        assigned = events["yangpu.demand.assigned.v1"]
        assert set(assigned) == set(ids), "every demand has an assigned event"
        assert all(len(event_ids) == 1 for event_ids in assigned.values()), "no demand was assigned twice"
    finally:
        stack.stop()
        suite.close()

