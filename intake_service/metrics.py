"""Intake's own Prometheus metrics (labels bounded: street, channel and category codes, never a demand or a
person). The platform's metrics (HTTP, outbox, consumer, worker loops) are in :mod:`shared.metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEMANDS_LOGGED = Counter("yangpu_intake_demands_logged_total", "Demands logged, by where they came from.",
                         ["street", "channel", "category"])
RESENDS = Counter("yangpu_intake_resends_total",
                  "Submitted events re-published because their demand stayed unrouted.")
UNROUTED_DEMANDS = Gauge("yangpu_intake_unrouted_demands",
                         "Demands still submitted (not routed, as intake sees it) past UNROUTED_RESEND_AFTER_S.",
                         multiprocess_mode="max")
