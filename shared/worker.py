"""The worker process every service runs: its consumer group, its outbox relay and its timers.

Three small loops: handle what the bus delivered, relay what the handlers (and the web process) wrote to
the outbox, fire what fell due. In the process each runs in its own thread and blocks on its own source;
tests and benchmarks drive the same steps one round at a time with :meth:`Worker.step`.

A worker must never look alive while doing nothing. Each loop retries every failure itself, reconnecting
included, with capped exponential back-off (:class:`Backoff`): a bus or a database that is away for ten
seconds or ten hours is simply waited out. A failure that is not an outage and keeps coming back, or a loop
thread that ends, stops the whole process with a non-zero status for its supervisor to restart: a process
missing one of its loops is worse than no process. Each loop records a heartbeat after every successful
pass, and the worker's metrics host answers ``/readyz`` with 503 naming a loop whose heartbeat is older
than ``WORKER_STALE_AFTER_S`` (or a halted consumer). Consumer lag and the outbox gauges are read at scrape
time with connections of their own, so they keep telling the truth when a loop is dead.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any, TypeVar

import psycopg
from kafka.errors import KafkaError
from prometheus_client import Gauge
from sqlalchemy import MetaData
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from shared import logs
from shared.config import Settings
from shared.context import ServiceContext
from shared.messaging.backends import ensure_topics, is_kafka, make_consumer, make_lag_reader, make_producer
from shared.messaging.consumer import DeadLetterPolicy, EventProcessor, Handler
from shared.messaging.outbox import OutboxRelay
from shared.metrics import (
    BUILD_INFO,
    CONSUMER_LAG,
    LOOP_FAILURES,
    LOOP_HEARTBEAT_AGE,
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    SCRAPE_READ_FAILURES,
    VERSION,
    MetricsHost,
)

log = logging.getLogger(__name__)
C = TypeVar("C", bound=ServiceContext)

# A timer gets the service's sessions and returns how much work it did (0 when nothing was due).
Timer = Callable[[sessionmaker[Session]], int]

CONSUMER_POLL_S = 0.2  # the bus answers a poll as soon as a record arrives; this only bounds shutdown
RELAY_IDLE_WAIT_S = 1.0  # an idle relay sleeps until NOTIFY (PostgreSQL) or this long at most
RELAY_GATHER_S = 0.003
TIMER_TICK_S = 0.2  # idle timers look for due work 5 times a second: a breach fires within 0.2 s of its instant
# A thread woken by the bus or by NOTIFY should not wait the default 5 ms for the interpreter lock.
SWITCH_INTERVAL_S = 0.0005
SUPERVISE_INTERVAL_S = 0.5  # how soon run() notices a loop thread that ended
# Failures in a row that are not outages before a loop gives up: with the back-off, about 30 s of them.
UNEXPECTED_FAILURE_LIMIT = 10
EXIT_LOOP_DIED = 70  # EX_SOFTWARE: the supervisor (compose's restart policy, devstack.stack) starts a new process
SCRAPE_READ_TIMEOUT_S = 5.0  # a reading for /metrics waits no longer: Prometheus gives a scrape 10 s
SCRAPE_READ_REUSE_S = 1.0  # one reading serves every series of one scrape

# Failures that mean a server is away (the database, the bus, the network): waited out, however long.
OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError, InterfaceError, PoolTimeoutError, psycopg.OperationalError, psycopg.InterfaceError,
    KafkaError, OSError,
)


@dataclass
class WorkerSpec:
    """What a service plugs into the common worker loop."""

    service: str
    metadata: MetaData
    topics: list[str]
    handlers: dict[str, Handler]
    timers: list[Timer] = field(default_factory=list)

    @property
    def group(self) -> str:
        return f"{self.service}-service"


@dataclass
class Backoff:
    """Capped exponential back-off with jitter: 0.2 s, 0.4 s, 0.8 s … up to 5 s, each delay drawn between
    half and all of that, so the workers that lost the same broker do not all knock again at once."""

    initial_s: float = 0.2
    cap_s: float = 5.0
    failures: int = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.initial_s * 2 ** min(self.failures, 32))
        self.failures += 1
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.failures = 0


class LoopGaveUp(RuntimeError):
    """A loop failed again and again with an error that is not an outage: retrying will not fix it."""


class Worker:
    def __init__(self, spec: WorkerSpec, ctx: ServiceContext) -> None:
        self.spec = spec
        self.settings = settings = ctx.settings
        self.stopping = threading.Event()
        self.engine = ctx.engine
        self.sessions = ctx.sessions
        self.producer = make_producer(settings, f"{spec.service}-worker")  # connects on first use
        self.relay = OutboxRelay(spec.service, self.engine, spec.metadata, self.producer)
        self.dead_letter = DeadLetterPolicy(settings.dead_letter_limit)
        self.processor = self._new_processor()
        self._renew_consumer = False  # set after a failed consume pass; the next pass builds a fresh one
        self.loops: dict[str, Callable[[], None]] = {"consume": self._consume_pass, "relay": self._relay_pass}
        if spec.timers:
            self.loops["timers"] = self._timer_pass
        self.heartbeats = dict.fromkeys(self.loops, time.monotonic())
        self.threads: dict[str, threading.Thread] = {}
        self.died: dict[str, str] = {}  # loop -> why its thread ended while the worker was not stopping
        self._topics_ready = not is_kafka(settings)
        self._topics_lock = threading.Lock()

    def _new_processor(self) -> EventProcessor:
        consumer = make_consumer(self.settings, self.spec.group, self.spec.topics)  # connects on first use
        return EventProcessor(self.spec.service, self.spec.group, consumer, self.producer, self.sessions,
                              self.spec.handlers, dead_letter=self.dead_letter)

    def step(self, poll_timeout_s: float = 0.01) -> int:
        """One round of the loop; returns how much work was done."""
        work = self.processor.run_once(poll_timeout_s)
        work += self.relay.run_once()
        for timer in self.spec.timers:
            work += timer(self.sessions)
        return work

    def run(self) -> int:
        """Run each loop in its own thread until asked to stop or until a loop cannot go on.

        Each loop blocks on what it waits for (the bus, the outbox's NOTIFY, the next tick), so an idle
        worker costs next to nothing while each step still reacts within milliseconds. Returns the exit
        status: 0 after a requested stop, ``EXIT_LOOP_DIED`` when a loop's thread ended on its own.
        """
        log.info("worker started", extra={"group": self.spec.group, "bus": self.settings.event_bus})
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        started = time.monotonic()
        for name in self.loops:
            self.heartbeats[name] = started  # a loop gets WORKER_STALE_AFTER_S for its first pass
        self.threads = {name: threading.Thread(target=self._thread_main, args=(name,), daemon=True,
                                               name=f"{self.spec.service}-{name}") for name in self.loops}
        for t in self.threads.values():
            t.start()
        while not self.stopping.wait(SUPERVISE_INTERVAL_S):
            if not all(t.is_alive() for t in self.threads.values()):
                break
        dead = dict(self.died)
        self.stopping.set()
        for t in self.threads.values():
            t.join(timeout=15)
        self.close()
        if dead:
            log.critical("worker exits with status %d: loop(s) %s ended (%s); a supervisor must start a new one",
                         EXIT_LOOP_DIED, ", ".join(sorted(dead)), "; ".join(dead.values()))
            return EXIT_LOOP_DIED
        return 0

    def _thread_main(self, name: str) -> None:
        try:
            self._retrying(name, self.loops[name])
        except BaseException as exc:  # noqa: BLE001 - whatever ended the loop, run() must learn of it
            self.died[name] = f"{type(exc).__name__}: {exc}"
            log.critical("%s loop died", name, exc_info=True)
        else:
            if not self.stopping.is_set():
                self.died[name] = "the loop returned"

    def _retrying(self, name: str, one_pass: Callable[[], None]) -> None:
        """Run ``one_pass`` until stopped; after a failure wait (:class:`Backoff`) and go again.

        An outage (see ``OUTAGES``) is retried for as long as it lasts. Any other error is retried too, in
        case it is a passing oddity, but ``UNEXPECTED_FAILURE_LIMIT`` of them in a row end the loop: that is
        a bug, and a restarted process says so louder than a loop failing quietly forever.
        """
        backoff = Backoff()
        unexpected = 0
        while not self.stopping.is_set():
            try:
                one_pass()
            except Exception as exc:
                LOOP_FAILURES.labels(self.spec.service, name).inc()
                delay = backoff.next_delay()
                if isinstance(exc, OUTAGES):
                    log.error("%s: unavailable (%s: %s); retrying in %.1f s", name, type(exc).__name__,
                              str(exc)[:300], delay)
                else:
                    unexpected += 1
                    if unexpected >= UNEXPECTED_FAILURE_LIMIT:
                        raise LoopGaveUp(f"{name} failed {unexpected} times in a row") from exc
                    log.exception("%s loop failed (%d in a row); retrying in %.1f s", name, unexpected, delay)
                if name == "consume" and not self._renew_consumer:
                    self._renew_consumer = True
                    with contextlib.suppress(Exception):  # it is being replaced because something failed
                        self.processor.consumer.close()
                self.stopping.wait(delay)
            else:
                backoff.reset()
                unexpected = 0

    def _beat(self, name: str) -> None:
        self.heartbeats[name] = time.monotonic()

    def heartbeat_age(self, name: str) -> float:
        """Seconds since the loop's last successful pass."""
        return time.monotonic() - self.heartbeats[name]

    def _ensure_topics(self) -> None:
        """On Kafka, create the topics before the first poll or publish; an outage here is retried like any."""
        if self._topics_ready:
            return
        with self._topics_lock:
            if not self._topics_ready:
                ensure_topics(self.settings)
                self._topics_ready = True

    def _consume_pass(self) -> None:
        """One poll; a heartbeat only when the consumer owns partitions (or the lease) to poll from.

        After a failure the consumer is replaced here, inside the retried pass: a fresh consumer re-reads
        from the last committed offsets, so records polled but not handled are never skipped (and the
        failed-in-a-row count is read again from the commit).
        """
        self._ensure_topics()
        if self._renew_consumer:
            self.processor = self._new_processor()
            self._renew_consumer = False
        processor = self.processor
        processor.run_once(CONSUMER_POLL_S)
        if processor.consumer.assigned():
            self._beat("consume")

    def _relay_pass(self) -> None:
        self._ensure_topics()
        published = self.relay.run_once()
        self._beat("relay")
        if published == 0:
            self.relay.wait(RELAY_IDLE_WAIT_S, self.stopping)
        # Let a few more commits land so that one publish carries them all: under load this turns one
        # round trip per event into one per batch, for a few milliseconds of latency.
        self.stopping.wait(RELAY_GATHER_S)

    def _timer_pass(self) -> None:
        work = sum(timer(self.sessions) for timer in self.spec.timers)
        self._beat("timers")
        if work == 0:
            self.stopping.wait(TIMER_TICK_S)

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when every loop's thread runs and passed within WORKER_STALE_AFTER_S, and the consumer
        is not halted; the body names what is not."""
        loops: dict[str, Any] = {}
        not_ready = []
        for name in self.loops:
            age = self.heartbeat_age(name)
            thread = self.threads.get(name)
            if thread is None:
                state = "not started"
            elif not thread.is_alive():
                state = f"died: {self.died[name]}" if name in self.died else "stopped"
            elif age > self.settings.worker_stale_after_s:
                state = "stale"
            else:
                state = "ok"
            loops[name] = {"state": state, "heartbeat_age_s": round(age, 3)}
            if state != "ok":
                not_ready.append(name)
        body: dict[str, Any] = {"status": "ready", "service": self.spec.service, "loops": loops}
        halt = self.processor.halted
        if halt is not None:
            body["halted"] = {"group": self.spec.group, **asdict(halt)}
        if not_ready or halt is not None:
            body["status"] = "unavailable"
            body["not_ready"] = not_ready + (["consumer halted"] if halt is not None else [])
        return body["status"] == "ready", body

    def close(self) -> None:
        self.relay.close()
        self.processor.consumer.close()
        self.producer.close()
        self.engine.dispose()
        log.info("worker stopped")


class ScrapeReading:
    """Values for /metrics read when Prometheus scrapes, in a thread of their own and within a time limit.

    Readings go to the bus or the database, which may hang in an outage, while a scrape must answer within
    Prometheus' timeout: a reading that fails or takes longer than SCRAPE_READ_TIMEOUT_S is counted in
    ``yangpu_worker_scrape_read_failures_total`` and the last good values are served (NaN before any).
    At most one reading runs at a time, and one serves every series of a scrape.
    """

    def __init__(self, service: str, name: str, read: Callable[[], dict[str, float]],
                 close: Callable[[], None] | None = None) -> None:
        self.service = service
        self.name = name
        self._read = read
        self._close = close
        self._values: dict[str, float] = {}
        self._read_at = -math.inf
        self._lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self._outcome: dict[str, Any] = {}

    def value(self, key: str) -> float:
        with self._lock:
            if time.monotonic() - self._read_at >= SCRAPE_READ_REUSE_S:
                self._read_at = time.monotonic()
                self._refresh()
            return float(self._values.get(key, math.nan))

    def _refresh(self) -> None:
        if self._reader is None or not self._reader.is_alive():  # else wait on the one still running
            self._outcome = {}
            self._reader = threading.Thread(target=self._run, args=(self._outcome,), daemon=True,
                                            name=f"{self.service}-{self.name}-reading")
            self._reader.start()
        self._reader.join(SCRAPE_READ_TIMEOUT_S)
        if "values" in self._outcome:
            self._values = self._outcome["values"]
            return
        SCRAPE_READ_FAILURES.labels(self.service, self.name).inc()
        log.warning("reading %s for /metrics failed: %s", self.name, self._outcome.get("error", "timed out"))

    def _run(self, outcome: dict[str, Any]) -> None:
        try:
            outcome["values"] = self._read()
        except Exception as exc:  # noqa: BLE001 - counted by the scrape that waits for it
            outcome["error"] = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.join(SCRAPE_READ_TIMEOUT_S)
            if self._close is not None:
                self._close()


def _outbox_reading(relay: OutboxRelay) -> dict[str, float]:
    depth, oldest = relay.depth()
    return {"depth": depth, "oldest_age_s": time.time() - oldest if oldest else 0.0}


class WorkerMetrics:
    """A worker's metrics host (/metrics, /readyz, /healthz) and the scrape-time readings it serves:
    the group's lag from the bus's side, the outbox depth, and the loops' heartbeat ages.

    It lives beside the :class:`Worker`, not inside its loops, so a dead loop cannot freeze it.
    """

    def __init__(self, worker: Worker, host: str | None = None, port: int | None = None) -> None:
        spec, settings = worker.spec, worker.settings
        lag_reader = make_lag_reader(settings, spec.group, spec.topics)
        self.lag = ScrapeReading(spec.service, "consumer_lag", lag_reader.lag, lag_reader.close)
        self.outbox = ScrapeReading(spec.service, "outbox", partial(_outbox_reading, worker.relay))
        self._series: list[tuple[Gauge, tuple[str, ...]]] = [
            *[(CONSUMER_LAG, (spec.service, spec.group, topic)) for topic in spec.topics],
            (OUTBOX_DEPTH, (spec.service,)), (OUTBOX_OLDEST_AGE, (spec.service,)),
            *[(LOOP_HEARTBEAT_AGE, (spec.service, loop)) for loop in worker.loops],
        ]
        for topic in spec.topics:
            CONSUMER_LAG.labels(spec.service, spec.group, topic).set_function(partial(self.lag.value, topic))
        OUTBOX_DEPTH.labels(spec.service).set_function(partial(self.outbox.value, "depth"))
        OUTBOX_OLDEST_AGE.labels(spec.service).set_function(partial(self.outbox.value, "oldest_age_s"))
        for loop in worker.loops:
            LOOP_HEARTBEAT_AGE.labels(spec.service, loop).set_function(partial(worker.heartbeat_age, loop))
        self.host = MetricsHost(host if host is not None else settings.worker_metrics_host,
                                port if port is not None else settings.worker_metrics_ports[spec.service],
                                worker.readiness)

    @property
    def port(self) -> int:
        return self.host.port

    def close(self) -> None:
        """Stop serving and drop this worker's series (they would otherwise read a closed worker)."""
        self.host.close()
        for gauge, labels in self._series:
            with contextlib.suppress(KeyError):  # another host of the same service dropped it already
                gauge.remove(*labels)
        self.lag.close()
        self.outbox.close()


def main(bootstrap: Callable[[Settings], C], worker_spec: Callable[[C], WorkerSpec]) -> None:
    """Entry point of ``python -m <service>.worker``; exits non-zero when a loop could not go on."""
    settings = Settings.from_env()
    settings.check_production_ready()
    ctx = bootstrap(settings)
    spec = worker_spec(ctx)
    logs.configure(f"{spec.service}-worker", settings.log_level)
    BUILD_INFO.labels(f"{spec.service}-worker", VERSION).set(1)
    worker = Worker(spec, ctx)
    metrics = WorkerMetrics(worker)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    status = worker.run()
    metrics.close()
    sys.exit(status)
