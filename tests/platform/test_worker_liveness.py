"""Workers that cannot die quietly: loops retry every outage with back-off, a dead loop ends the process,
and what an operator watches (/readyz, broker-side lag, heartbeat ages) tells the truth about a dead loop.

Real worker threads, the real broker and PostgreSQL (or the embedded default); the only fake is a consumer
factory that fails a few times, to pin down the back-off itself.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import insert

import shared.worker
from shared.config import PROJECT_ROOT, Settings
from shared.context import ServiceContext, database
from shared.contracts.events import DEMAND_EVENTS
from shared.db import make_engine
from shared.messaging.backends import make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from shared.messaging.consumer import EventProcessor
from shared.worker import EXIT_LOOP_DIED, Backoff, Worker, WorkerMetrics, WorkerSpec
from tests.harness import prepare, step_until
from tests.platform.test_bus import ack, applied, metadata

pytestmark = pytest.mark.both_backends

ACK = "yangpu.demand.acknowledged.v1"
RULES = PROJECT_ROOT / "deploy" / "prometheus" / "rules" / "alerts.rules.yml"


# -- helpers shared with test_dead_letter_limit ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str, timeout_s: float = 10) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def readyz(base: str) -> tuple[int, dict[str, Any]]:
    status, body = get(f"{base}/readyz")
    return status, json.loads(body)


def samples(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the host's /metrics, keyed by name and labels."""
    _, text = get(f"{base}/metrics")
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(base: str, name: str, **labels: str) -> float | None:
    return samples(base).get((name, frozenset(labels.items())))


def consume_failures(base: str) -> float:
    """The consume loop's failed passes so far (the counter lives as long as the process)."""
    return sample(base, "yangpu_worker_loop_failures_total", service="intake", loop="consume") or 0


def wait_for(predicate: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.1) -> Any:
    return step_until(predicate, timeout_s=timeout_s, what=what, every_s=every_s)


def publish(settings: Settings, messages: list[OutgoingMessage]) -> None:
    producer = make_producer(settings, "test")
    try:
        producer.send_batch(messages)
    finally:
        producer.close()


def message(event: Any) -> OutgoingMessage:
    m = to_message(event)
    return OutgoingMessage(DEMAND_EVENTS, m.key, dict(m.headers), m.value)


@dataclass
class Running:
    """A worker running its threads (``run()`` in a thread, as the process's main thread runs it) and its
    metrics host on a free port."""

    worker: Worker
    metrics: WorkerMetrics
    thread: threading.Thread
    status: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.metrics.port}"


@contextmanager
def running(settings: Settings, handlers: dict[str, Any], expect_status: int | None = 0) -> Iterator[Running]:
    ctx = ServiceContext("intake", settings, metadata, *database("intake", settings, metadata))
    worker = Worker(WorkerSpec("intake", metadata, [DEMAND_EVENTS], handlers), ctx)
    metrics = WorkerMetrics(worker, host="127.0.0.1", port=0)
    run = Running(worker, metrics, threading.Thread(target=lambda: run.status.append(worker.run()), daemon=True))
    run.thread.start()
    try:
        yield run
    finally:
        worker.stopping.set()
        run.thread.join(30)
        metrics.close()
    assert not run.thread.is_alive(), "run() did not return after stopping"
    if expect_status is not None:
        assert run.status == [expect_status]


def with_test_tables(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``env`` in place (topics created on Kafka), with the test tables in intake's fresh database."""
    settings = prepare(env, monkeypatch, services=())
    engine = make_engine(settings.database_url("intake"))
    metadata.create_all(engine)
    engine.dispose()
    return settings


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Each backend in turn."""
    monkeypatch.setenv("WORKER_STALE_AFTER_S", "2")
    return with_test_tables(env, monkeypatch)


def record_acks(seen: list[str]) -> Callable[..., None]:
    def handler(session: Any, event: Any, data: dict[str, Any]) -> None:
        seen.append(data["actor_id"])
        session.execute(insert(applied).values(event_id=event.get_id(), demand_id=data["demand_id"],
                                               type=event.get_type()))
    return handler


# -- the back-off itself ---------------------------------------------------------------------------------

def test_backoff_doubles_from_0_2_s_to_a_5_s_cap_with_jitter():
    backoff = Backoff()
    ceilings = [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    for _ in range(50):
        backoff.reset()
        delays = [backoff.next_delay() for _ in ceilings]
        for delay, ceiling in zip(delays, ceilings, strict=True):
            assert ceiling / 2 <= delay <= ceiling
    assert len({round(Backoff(failures=6).next_delay(), 6) for _ in range(20)}) > 1, "no jitter"
    backoff.reset()
    assert backoff.next_delay() <= 0.2


def test_the_consume_loop_rebuilds_its_consumer_through_failures_with_growing_back_off(embedded, monkeypatch):
    """A consumer factory that fails 4 times (a fake for the back-off only): the loop keeps trying, waiting
    longer each time, and then consumes; no thread dies on the way."""
    settings = with_test_tables(embedded, monkeypatch)
    real = shared.worker.make_consumer
    attempts: list[float] = []

    def flaky(*args: Any) -> Any:
        attempts.append(time.monotonic())
        if len(attempts) <= 4:
            raise ConnectionError("bus unreachable (fake)")
        return real(*args)

    seen: list[str] = []
    with running(settings, {ACK: record_acks(seen)}) as run:
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the worker to be ready")
        failures_before = consume_failures(run.url)
        monkeypatch.setattr(shared.worker, "make_consumer", flaky)
        consumer = run.worker.processor.consumer
        failing_poll = consumer.poll

        def poll_fails_once(timeout_s: float, max_records: int = 500) -> Any:
            consumer.poll = failing_poll
            raise ConnectionError("poll failed (fake)")

        consumer.poll = poll_fails_once
        wait_for(lambda: len(attempts) == 5, 20, "the fifth consumer")
        publish(settings, [message(ack("d-1", actor="after"))])
        wait_for(lambda: seen == ["after"], 10, "the event to be handled by the rebuilt consumer")
        gaps = [b - a for a, b in zip(attempts, attempts[1:], strict=False)]
        for gap, floor in zip(gaps, [0.2, 0.4, 0.8, 1.6], strict=True):  # half of each back-off ceiling
            assert gap >= floor, gaps
        assert all(t.is_alive() for t in run.worker.threads.values())
        assert run.worker.died == {}
        assert consume_failures(run.url) - failures_before == 5  # the failed poll and 4 failed factories
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the worker to be ready again")


# -- a dead consume thread: the process ends, and nothing that operators watch pretends otherwise -----------

class Injected(BaseException):
    """Stands for whatever could end a thread that catches every Exception."""


def consumer_lag_alert_condition() -> tuple[float, str]:
    """ConsumerLagGrowing's threshold, read from the rule so the test follows it."""
    rule = next(r for g in yaml.safe_load(RULES.read_text("utf-8"))["groups"] for r in g["rules"]
                if r.get("alert") == "ConsumerLagGrowing")
    threshold = re.search(r"\(yangpu_consumer_lag_messages\) > (\d+)", rule["expr"])
    assert threshold and "delta(yangpu_consumer_lag_messages[10m])) > 0" in rule["expr"], rule["expr"]
    return float(threshold.group(1)), rule["expr"]


def test_a_dead_consume_thread_ends_the_worker_and_lag_and_readyz_tell_the_truth(settings):
    seen: list[str] = []
    labels = {"service": "intake", "group": "intake-service", "topic": DEMAND_EVENTS}
    with running(settings, {ACK: record_acks(seen)}, expect_status=EXIT_LOOP_DIED) as run:
        publish(settings, [message(ack("d-1", actor="before"))])
        wait_for(lambda: seen == ["before"], 30, "the first event")
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the worker to be ready")
        wait_for(lambda: sample(run.url, "yangpu_consumer_lag_messages", **labels) == 0, 10, "no lag")

        def dies(timeout_s: float) -> int:
            raise Injected("the consume thread is gone")

        run.worker.processor.run_once = dies
        run.thread.join(10)  # run() notices the dead loop, stops the others and returns a failure status
        assert run.status == [EXIT_LOOP_DIED]
        assert run.worker.died.keys() == {"consume"}

        threshold, _ = consumer_lag_alert_condition()
        publish(settings, [message(ack("d-1", actor=f"lost-{i}")) for i in range(int(threshold) + 20)])
        first = wait_for(lambda: sample(run.url, "yangpu_consumer_lag_messages", **labels), 10, "lag")
        age_first = sample(run.url, "yangpu_worker_loop_heartbeat_age_seconds", service="intake", loop="consume")
        publish(settings, [message(ack("d-1", actor=f"later-{i}")) for i in range(30)])
        time.sleep(1.2)  # past the reading's reuse window: the next scrape reads the bus again
        second = sample(run.url, "yangpu_consumer_lag_messages", **labels)
        age_second = sample(run.url, "yangpu_worker_loop_heartbeat_age_seconds", service="intake", loop="consume")

        assert first == threshold + 20 and second == first + 30, "broker-side lag rises with every event"
        # ConsumerLagGrowing's condition, on what Prometheus would have scraped: over the threshold, growing
        assert second > threshold and second - first > 0
        assert age_second > age_first, "the heartbeat age keeps growing"
        status, body = readyz(run.url)
        assert status == 503
        assert "consume" in body["not_ready"]
        assert body["loops"]["consume"]["state"].startswith("died: Injected")
        assert seen == ["before"]


def test_a_loop_that_hangs_goes_stale_and_readyz_names_it(embedded, monkeypatch):
    monkeypatch.setenv("WORKER_STALE_AFTER_S", "1")
    settings = with_test_tables(embedded, monkeypatch)
    with running(settings, {ACK: record_acks([])}) as run:
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the worker to be ready")
        assert get(f"{run.url}/healthz")[0] == 200
        release = threading.Event()
        relay_once = run.worker.relay.run_once
        run.worker.relay.run_once = lambda: release.wait(30) and relay_once()
        status, body = wait_for(lambda: (r := readyz(run.url))[0] == 503 and r, 10, "readyz to fail")
        assert body["not_ready"] == ["relay"] and body["loops"]["relay"]["state"] == "stale"
        assert body["loops"]["consume"]["state"] == "ok"
        assert get(f"{run.url}/healthz")[0] == 200, "the process is alive all along"
        release.set()
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the relay to recover")


def test_an_error_that_keeps_coming_back_ends_the_loop_and_the_worker(embedded, monkeypatch):
    settings = with_test_tables(embedded, monkeypatch)
    monkeypatch.setattr(shared.worker, "UNEXPECTED_FAILURE_LIMIT", 3)

    def bug(self: EventProcessor, timeout_s: float = 0.01) -> int:
        raise AttributeError("a bug, not an outage")

    monkeypatch.setattr(EventProcessor, "run_once", bug)
    with running(settings, {ACK: record_acks([])}, expect_status=EXIT_LOOP_DIED) as run:
        run.thread.join(15)
        assert run.status == [EXIT_LOOP_DIED]
        assert run.worker.died["consume"].startswith("LoopGaveUp")
        status, body = readyz(run.url)
        assert status == 503 and body["loops"]["consume"]["state"].startswith("died: LoopGaveUp")


# -- Kafka unreachable: the loops keep retrying for as long as it takes --------------------------------------

def unreachable(production: dict[str, str]) -> dict[str, str]:
    """The production environment with a bootstrap server where nothing listens, and short timeouts."""
    return {**production, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "KAFKA_BOOTSTRAP_TIMEOUT_MS": "300", "WORKER_STALE_AFTER_S": "2"}


def kafka_io_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("kafka-io"))


@pytest.mark.production
def test_loops_retry_an_unreachable_kafka_without_leaking_client_threads(production, monkeypatch):
    with_test_tables(production, monkeypatch)
    for key, value in unreachable(production).items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    before = kafka_io_threads()
    with running(settings, {ACK: record_acks([])}) as run:
        url = run.url
        start = consume_failures(url)
        wait_for(lambda: consume_failures(url) - start >= 6, 25, "six failed attempts")
        assert all(t.is_alive() for t in run.worker.threads.values()) and run.worker.died == {}
        # each attempt's kafka-python client was closed: its IO thread does not outlive the attempt
        assert kafka_io_threads() - before <= 2
        status, body = readyz(url)
        assert status == 503 and {"consume", "relay"} <= set(body["not_ready"])


@pytest.mark.production
def test_the_worker_process_stays_up_and_keeps_retrying_while_kafka_is_unreachable(production, monkeypatch,
                                                                                    tmp_path):
    prepare(production, monkeypatch, services=("intake",))
    port = free_port()
    env = {**os.environ, **unreachable(production), "INTAKE_WORKER_METRICS_PORT": str(port),
           "WORKER_METRICS_HOST": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}"
    with open(tmp_path / "worker.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "intake_service.worker"], cwd=PROJECT_ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        def failures() -> float:
            try:
                return consume_failures(url)
            except OSError:  # not listening yet
                assert proc.poll() is None, (tmp_path / "worker.log").read_text()
                return 0

        # kafka-python gave up bootstrapping six times (the old worker's consume thread ended after the first);
        # by then the back-off has reached its 5 s cap, and the loop still goes on trying
        first = wait_for(lambda: failures() >= 6 and failures(), 25, "six failed attempts", 0.2)
        later = wait_for(lambda: (n := failures()) > first and n, 10, "another attempt", 0.2)
        assert later > first
        assert proc.poll() is None, "the process must stay up"
        assert get(f"{url}/healthz")[0] == 200
        status, body = readyz(url)
        assert status == 503
        assert {"consume", "relay"} <= set(body["not_ready"])
        assert all(not loop["state"].startswith("died") for loop in body["loops"].values()), body
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, (tmp_path / "worker.log").read_text()

