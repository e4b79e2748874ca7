"""Prometheus metrics shared by every process, named by Prometheus conventions (base units, _total).

Labels stay bounded: service, event type, topic, route templates, street/channel/category codes; never a
demand id or a person. Web processes under gunicorn use the multiprocess collector
(``PROMETHEUS_MULTIPROC_DIR``); worker processes serve their own registry on a metrics port.
"""

from __future__ import annotations

import os

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
CONSUMER_LAG = Gauge("yangpu_consumer_lag_messages", "Messages a consumer group has not committed yet.",
                     ["service", "group", "topic"], multiprocess_mode="max")


def render(registry: CollectorRegistry | None = None) -> tuple[bytes, str]:
    """The exposition text for /metrics, merging gunicorn workers when running multiprocess."""
    if registry is None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
