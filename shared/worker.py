"""The worker process every service runs: its consumer group, its outbox relay and its timers.

Three small loops: handle what the bus delivered, relay what the handlers (and the web process) wrote to
the outbox, fire what fell due. In the process each runs in its own thread and blocks on its own source;
tests and benchmarks drive the same steps one round at a time with :meth:`Worker.step`.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import start_http_server
from sqlalchemy import MetaData
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import logs
from shared.bus import make_consumer, make_producer
from shared.config import Settings
from shared.consumer import EventProcessor, Handler
from shared.db import make_engine, session_factory
from shared.metrics import BUILD_INFO, CONSUMER_LAG, OUTBOX_DEPTH, OUTBOX_OLDEST_AGE, VERSION
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)

# A timer gets the service's sessions and returns how much work it did (0 when nothing was due).
Timer = Callable[[sessionmaker[Session]], int]

CONSUMER_POLL_S = 0.2  # the bus answers a poll as soon as a record arrives; this only bounds shutdown
RELAY_IDLE_WAIT_S = 1.0  # an idle relay sleeps until NOTIFY (PostgreSQL) or this long at most
RELAY_GATHER_S = 0.003
TIMER_TICK_S = 0.05  # timers look for due work 20 times a second: breaches fire well within 1 s
GAUGE_INTERVAL_S = 5.0
# A thread woken by the bus or by NOTIFY should not wait the default 5 ms for the interpreter lock.
SWITCH_INTERVAL_S = 0.0005


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


class Worker:
    def __init__(self, spec: WorkerSpec, settings: Settings) -> None:
        self.spec = spec
        self.settings = settings
        self.stopping = threading.Event()
        self.engine = make_engine(settings.database_url(spec.service))
        self.sessions = session_factory(self.engine, spec.metadata)
        self.producer = make_producer(settings, f"{spec.service}-worker")
        self.relay = OutboxRelay(spec.service, self.engine, spec.metadata, self.producer)
        self.processor = self._new_processor()

    def _new_processor(self) -> EventProcessor:
        consumer = make_consumer(self.settings, self.spec.group, self.spec.topics)
        return EventProcessor(self.spec.service, self.spec.group, consumer, self.producer, self.sessions,
                              self.spec.handlers)

    def step(self, poll_timeout_s: float = 0.01) -> int:
        """One round of the loop; returns how much work was done."""
        work = self.processor.run_once(poll_timeout_s)
        work += self.relay.run_once()
        for timer in self.spec.timers:
            work += timer(self.sessions)
        return work

    def export_gauges(self) -> None:
        depth, oldest = self.relay.depth()
        OUTBOX_DEPTH.labels(self.spec.service).set(depth)
        OUTBOX_OLDEST_AGE.labels(self.spec.service).set(time.time() - oldest if oldest else 0)
        for topic, lag in self.processor.consumer.lag().items():
            CONSUMER_LAG.labels(self.spec.service, self.spec.group, topic).set(lag)

    def run(self) -> None:
        """Run the consumer, the relay and the timers as three loops, each in its own thread.

        Each loop blocks on what it waits for (the bus, the outbox's NOTIFY, the next tick), so an idle
        worker costs next to nothing while each step still reacts within milliseconds.
        """
        log.info("worker started", extra={"group": self.spec.group, "bus": self.settings.event_bus})
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        loops = [("consume", self._consume_loop), ("relay", self._relay_loop)]
        if self.spec.timers:
            loops.append(("timers", self._timer_loop))
        threads = [threading.Thread(target=self._guarded, args=(name, loop), name=name, daemon=True)
                   for name, loop in loops]
        for t in threads:
            t.start()
        self.stopping.wait()
        for t in threads:
            t.join(timeout=15)
        self.close()

    def _guarded(self, name: str, loop: Callable[[], None]) -> None:
        """Keep a loop alive through failures; a dead loop would silently stop the service.

        After any failure the consumer is rebuilt, so it reads again from the last committed offsets:
        records polled but not handled are never skipped.
        """
        while not self.stopping.is_set():
            try:
                loop()
            except Exception as exc:
                if isinstance(exc, OperationalError):
                    log.error("%s: database unavailable, retrying: %s", name, exc.__class__.__name__)
                else:
                    log.exception("%s loop failed; retrying", name)
                self.stopping.wait(1.0)
                if name == "consume":
                    self.processor.consumer.close()
                    self.processor = self._new_processor()

    def _consume_loop(self) -> None:
        last_gauges = 0.0
        while not self.stopping.is_set():
            self.processor.run_once(CONSUMER_POLL_S)
            if time.monotonic() - last_gauges > GAUGE_INTERVAL_S:  # the consumer is not thread-safe: here
                self.export_gauges()
                last_gauges = time.monotonic()

    def _relay_loop(self) -> None:
        while not self.stopping.is_set():
            if self.relay.run_once() == 0:
                self.relay.wait(RELAY_IDLE_WAIT_S, self.stopping)
            # Let a few more commits land so that one publish carries them all: under load this turns one
            # round trip per event into one per batch, for a few milliseconds of latency.
            self.stopping.wait(RELAY_GATHER_S)

    def _timer_loop(self) -> None:
        while not self.stopping.is_set():
            if sum(timer(self.sessions) for timer in self.spec.timers) == 0:
                self.stopping.wait(TIMER_TICK_S)

    def close(self) -> None:
        self.relay.close()
        self.processor.consumer.close()
        self.producer.close()
        self.engine.dispose()
        log.info("worker stopped")


def main(spec: WorkerSpec) -> None:
    """Entry point of ``python -m <service>.worker``."""
    settings = Settings.from_env()
    settings.check_production_ready()
    logs.configure(f"{spec.service}-worker", settings.log_level)
    if settings.event_bus == "kafka":
        from shared.bus_kafka import ensure_topics

        ensure_topics(settings)
    BUILD_INFO.labels(f"{spec.service}-worker", VERSION).set(1)
    start_http_server(settings.worker_metrics_ports[spec.service], addr=settings.worker_metrics_host)
    worker = Worker(spec, settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    worker.run()
