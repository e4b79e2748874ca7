"""SLA metrics for Grafana (names are a contract with the dashboards and alert rules: keep them).

Counters and the histogram move in the worker, where clocks change, and only once the change committed
(:func:`shared.db.after_commit`), so a handler retried after a rollback, or an event redelivered and
deduplicated, never counts twice. Open clocks and the oldest unanswered demand are read from the database at scrape
time by :class:`OpenClocksCollector` in the web app: every gunicorn worker answers the same numbers.
Labels stay bounded (street, channel, category, kind, outcome, key_enterprise, department); never a demand id
or an officer id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from shared.contracts.reference import STREETS
from shared.contracts.vocabulary import CLOCK_KINDS
from sla_service.model import ClockRow

log = logging.getLogger(__name__)

FIRST_RESPONSE_SECONDS = Histogram(
    "yangpu_sla_first_response_seconds",
    "Business seconds from a demand's report to its first acknowledgement (the promise online is 60).",
    ["street", "channel"],
    buckets=(10, 30, 60, 120, 300, 900, 1800, 3600, 7200, 14400, 28800, 57600, 144000),
)
# Department clocks (OLA): one observation per holder span when it ends (handed over, or the clock stopped).
# Labelled by holder group only -- a department code or "street" -- never by officer (no personal data).
HOLDER_SECONDS = Histogram(
    "yangpu_sla_holder_business_seconds",
    "Business seconds one holder had a demand (time awaiting the enterprise excluded), by department; "
    "observed when the holding period ends.",
    ["department"],
    buckets=(3600, 14400, 28800, 57600, 86400, 144000, 288000, 576000, 864000, 1728000),
)
CLOCKS_MET = Counter("yangpu_sla_clocks_met_total", "SLA clocks stopped within their target.",
                     ["kind", "street", "channel"])
CLOCKS_BREACHED = Counter("yangpu_sla_clocks_breached_total", "SLA clocks that reached their target unstopped.",
                          ["kind", "street", "channel", "category", "key_enterprise"])
WARNINGS = Counter("yangpu_sla_warnings_total", "SLA clocks that reached their warning threshold.",
                   ["kind", "street", "channel"])
RESOLUTIONS = Counter("yangpu_sla_resolutions_total", "Demands resolved, by outcome.",
                      ["outcome", "street", "channel", "category"])
CLOCKS_REPAIRED = Counter(
    "yangpu_sla_clocks_repaired_total",
    "Demands SLA learnt of from their assignment because their submitted event never reached it: clocks "
    "opened from the assignment (repaired), or not, the assignment being too old to say how (unrepairable).",
    ["outcome"],
)
for _outcome in ("repaired", "unrepairable"):  # exported at 0 from the start, so the first repair is an increase
    CLOCKS_REPAIRED.labels(_outcome)


class OpenClocksCollector(Collector):
    """``yangpu_sla_open_clocks{kind,street}`` and ``yangpu_sla_oldest_unanswered_timestamp_seconds{street}``.

    Both come from the partial index over clocks not stopped (``ix_clocks_open``): a grouped count and
    one index seek per street for the oldest report whose first response is still running. A street with
    no unanswered demand has no oldest-unanswered sample.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("yangpu_sla_open_clocks", "SLA clocks not stopped yet (running or paused).",
                              labels=["kind", "street"]),
            GaugeMetricFamily("yangpu_sla_oldest_unanswered_timestamp_seconds",
                              "Report time (Unix seconds) of the oldest demand still awaiting its first response.",
                              labels=["street"]),
        )

    def collect(self) -> Iterator[Metric]:
        open_clocks, oldest = self._families()
        try:
            with self.engine.connect() as conn:
                counts = {(kind, street): n for kind, street, n in conn.execute(
                    select(ClockRow.kind, ClockRow.street, func.count())
                    .where(ClockRow.stopped_at.is_(None)).group_by(ClockRow.kind, ClockRow.street))}
                oldest_by_street = {street: conn.execute(
                    select(ClockRow.reported_at).where(
                        ClockRow.kind == "first_response", ClockRow.street == street, ClockRow.stopped_at.is_(None))
                    .order_by(ClockRow.reported_at).limit(1)).scalar() for street in STREETS}
        except Exception as exc:  # a scrape must answer; the missing series tell the alert rules
            log.warning("cannot read open SLA clocks: %s", exc.__class__.__name__)
            return
        for kind in CLOCK_KINDS:
            for street in STREETS:
                open_clocks.add_metric([kind, street], counts.get((kind, street), 0))
        for street, reported_at in oldest_by_street.items():
            if reported_at is not None:
                oldest.add_metric([street], reported_at.timestamp())
        yield open_clocks
        yield oldest
