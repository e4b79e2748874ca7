"""The worker process every service runs: its consumer group, its outbox relay and its timers, in one loop.

One thread, one loop: handle what the bus delivered, relay what the handlers (and the web process)
wrote to the outbox, fire what fell due. When a step found work the loop goes round at once; when idle it
waits at most a few milliseconds in the consumer's poll, which keeps latency low without spinning.
"""

from __future__ import annotations

import logging
import signal
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
        log.info("worker started", extra={"group": self.spec.group, "bus": self.settings.event_bus})
        last_gauges = 0.0
        work = 0
        while not self.stopping.is_set():
            try:
                work = self.step(0 if work else 0.01)
                if time.monotonic() - last_gauges > 5:
                    self.export_gauges()
                    last_gauges = time.monotonic()
            except OperationalError as exc:
                # Database unreachable: wait, then re-read from the last committed offsets.
                log.error("database unavailable, retrying: %s", exc.__class__.__name__)
                self.processor.consumer.close()
                self.stopping.wait(1.0)
                self.processor = self._new_processor()
                work = 0
            except Exception:
                log.exception("worker step failed; retrying")
                self.stopping.wait(0.5)
                work = 0
        self.close()

    def close(self) -> None:
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
