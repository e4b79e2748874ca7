"""Routing's metrics. Labels are bounded codes (street, channel, category, rule, action), never a demand id."""

import logging
from collections.abc import Iterator

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from routing_service.model import Assignment
from shared.contracts.reference import STREETS

log = logging.getLogger(__name__)

DECISIONS = Counter("yangpu_routing_decisions_total",
                    "Routing decisions by the rule that made them (including retries of the unassigned queue).",
                    ["street", "channel", "rule"])
UNASSIGNED = Counter("yangpu_routing_unassigned_total",
                     "Demands that found nobody eligible and went to their street's unassigned queue.",
                     ["street", "channel", "category"])
ACTIONS = Counter("yangpu_routing_actions_total", "Officer actions on demands, by result (done or refused).",
                  ["action", "result"])
AUTO_ESCALATIONS = Counter("yangpu_routing_auto_escalations_total",
                           "Demands escalated to the street supervisor because the resolution clock breached.",
                           ["street"])


class UnassignedCollector(Collector):
    """``yangpu_routing_unassigned_demands{street}``: demands waiting in each street's unassigned queue now.

    Read from the database at scrape time (the partial index ``ix_assignments_unassigned``), so it is right
    under gunicorn with several workers and after any restart; every street is reported, zeros included.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("yangpu_routing_unassigned_demands",
                                 "Demands waiting in their street's unassigned queue.", labels=["street"])

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        try:
            with self.engine.connect() as conn:
                counts = dict(conn.execute(select(Assignment.street, func.count())
                                           .where(Assignment.state == "unassigned").group_by(Assignment.street)).all())
        except Exception as exc:  # a scrape must answer; the missing series tell the alert rules
            log.warning("cannot count unassigned demands: %s", exc.__class__.__name__)
            return
        for street in STREETS:
            family.add_metric([street], counts.get(street, 0))
        yield family
