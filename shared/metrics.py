"""Prometheus metrics shared by every process, named by Prometheus conventions (base units, _total).

Labels stay bounded: service, event type, topic, route templates, street/channel/category codes; never a
demand id or a person. Web processes under gunicorn use the multiprocess collector
(``PROMETHEUS_MULTIPROC_DIR``); worker processes serve their own registry on a metrics port, beside their
health probes (:class:`MetricsHost`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

log = logging.getLogger(__name__)

VERSION = "0.1.0"

BUILD_INFO = Gauge("yangpu_build_info", "Build of the running process (always 1).", ["service", "version"],
                   multiprocess_mode="max")
HTTP_SECONDS = Histogram(
    "yangpu_http_request_duration_seconds", "HTTP request latency by route template.",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OUTBOX_PUBLISHED = Counter("yangpu_outbox_published_total", "Events relayed from an outbox to the bus.",
                           ["service"])
OUTBOX_DEPTH = Gauge("yangpu_outbox_depth", "Events waiting in a service's outbox.", ["service"],
                     multiprocess_mode="max")
OUTBOX_OLDEST_AGE = Gauge("yangpu_outbox_oldest_age_seconds", "Age of the oldest event in the outbox.",
                          ["service"], multiprocess_mode="max")
EVENTS_CONSUMED = Counter("yangpu_events_consumed_total", "Events taken off the bus, by outcome.",
                          ["service", "type", "outcome"])
DEAD_LETTERS = Counter("yangpu_dead_letters_total", "Events sent to a dead-letter topic.", ["service", "topic"])
HANDLER_SECONDS = Histogram("yangpu_event_handler_duration_seconds", "Time to handle one event.",
                            ["service"], buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
EVENT_AGE_SECONDS = Histogram(
    "yangpu_event_delivery_seconds", "From an event's creation to the end of its handling.",
    ["service", "type"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("yangpu_consumer_lag_messages",
                     "Messages a consumer group has not committed yet, read from the bus at scrape time.",
                     ["service", "group", "topic"], multiprocess_mode="max")
CONSUMER_HALTED = Gauge("yangpu_consumer_halted",
                        "1 while a consumer is halted at an event after too many failed events in a row.",
                        ["service", "group"], multiprocess_mode="max")
LOOP_HEARTBEAT_AGE = Gauge("yangpu_worker_loop_heartbeat_age_seconds",
                           "Time since a worker loop's last successful pass, computed at scrape time.",
                           ["service", "loop"], multiprocess_mode="max")
LOOP_FAILURES = Counter("yangpu_worker_loop_failures_total",
                        "Failed passes of a worker loop (each one retried after a back-off).", ["service", "loop"])
SCRAPE_READ_FAILURES = Counter("yangpu_worker_scrape_read_failures_total",
                               "Readings for a scrape (consumer lag, outbox) that failed or timed out.",
                               ["service", "reading"])


def render(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The exposition text for /metrics, merging gunicorn workers when running multiprocess."""
    if registry is None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


Readiness = Callable[[], tuple[bool, dict[str, Any]]]


class MetricsHost:
    """A worker's HTTP endpoint, in a daemon thread: ``/metrics``; ``/readyz``, 200 or 503 with a JSON body
    naming what is wrong (``readiness`` decides); ``/healthz``, 200 while the process answers at all.

    The probes sit beside /metrics so that one port tells a supervisor (compose's healthcheck) and
    Prometheus the same story; ``port=0`` picks a free port (see :attr:`port`).
    """

    def __init__(self, host: str, port: int, readiness: Readiness,
                 registry: CollectorRegistry = DEFAULT_REGISTRY) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
                elif path == "/readyz":
                    ready, body = readiness()
                    self._send(200 if ready else 503, json.dumps(body).encode(), "application/json")
                elif path == "/healthz":
                    self._send(200, b'{"status": "alive"}', "application/json")
                else:
                    self._send(404, b'{"status": "not found"}', "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
                log.debug("metrics host: " + format, *args)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="metrics-host", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
