"""A dead-lettered event is not in ``processed_events``, so a re-publication of it is handled, not deduped.

The consumer records an event as processed in the handler's own transaction; when the handler fails, that
transaction rolls back, so the record goes too. Intake's resend sweep (or an operator's DLQ replay) can
then deliver the same event id again and, once the handler works, it takes effect exactly once.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from intake_service import announce
from intake_service.commands import resend_unrouted
from intake_service.model import Demand, TimelineEntry
from intake_service.model import outbox as intake_outbox
from routing_service.model import Assignment
from routing_service.model import processed_events as routing_processed
from shared.contracts.events import DEMAND_EVENTS, dlq_topic
from shared.db import unit_of_work
from shared.messaging.backends import make_consumer
from sla_service.model import TimedDemand
from tests.harness import Harness, step_until
from tests.helpers import demand_body

pytestmark = pytest.mark.both_backends

SUBMITTED = "yangpu.demand.submitted.v1"


def consumed(service: str, outcome: str) -> float:
    labels = {"service": service, "type": SUBMITTED, "outcome": outcome}
    return REGISTRY.get_sample_value("yangpu_events_consumed_total", labels) or 0.0


def dead_letter_ids(suite: Harness) -> list[str]:
    """The event ids routing put on demand.events.dlq (waits for at least one)."""
    reader = make_consumer(suite.settings, f"test-dlq-{uuid.uuid4().hex[:6]}", [dlq_topic(DEMAND_EVENTS)])
    try:
        records = step_until(lambda: reader.poll(0.2), lambda: None)
        return [r.headers["ce_id"].decode() for r in records
                if r.headers.get("dlq_consumer_group") == b"routing-service"]
    finally:
        reader.close()


def routing_state(suite: Harness, event_id: str, demand_id: str) -> tuple[int, int]:
    """(processed_events rows for the event, assignments of the demand) in routing's database."""
    with suite.workers["routing"].sessions() as session:
        processed = session.scalar(select(func.count()).select_from(routing_processed)
                                   .where(routing_processed.c.event_id == event_id))
        assignments = session.scalar(select(func.count()).select_from(Assignment)
                                     .where(Assignment.demand_id == demand_id))
    return processed, assignments


def test_a_dead_lettered_event_is_handled_once_when_re_published_after_the_fix(
        suite: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    routing_handlers = suite.workers["routing"].spec.handlers
    original = routing_handlers[SUBMITTED]
    broken = {"now": True}

    def until_fixed(session: Any, event: Any, data: dict[str, Any]) -> None:
        if broken["now"]:
            raise RuntimeError("routing cannot handle submitted events (a bug, fixed later in this test)")
        original(session, event, data)

    monkeypatch.setitem(routing_handlers, SUBMITTED, until_fixed)
    grid = suite.auth("grid_worker", "grid-wujiaochang-01", "wujiaochang")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(), headers=grid)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    intake = suite.workers["intake"]
    with intake.sessions() as session:
        demand = session.get(Demand, demand_id)
    event_id = demand.submitted_event_id
    suite.pump()

    # Routing dead-lettered it, and kept no trace of it; SLA (whose handler works) timed the demand.
    assert event_id in dead_letter_ids(suite)
    assert routing_state(suite, event_id, demand_id) == (0, 0)
    with intake.sessions() as session:
        assert session.get(Demand, demand_id).status == "submitted"
    with suite.workers["sla"].sessions() as session:
        assert session.get(TimedDemand, demand_id) is not None

    # The fix ships; the sweep re-publishes the very same event, and routing handles it, once.
    broken["now"] = False
    handled, sla_duplicates = consumed("routing", "handled"), consumed("sla", "duplicate")
    assert resend_unrouted(intake.sessions, 60, demand.received_at + timedelta(seconds=60)) == 1
    with intake.sessions() as session:
        [headers] = session.scalars(select(intake_outbox.c.headers)
                                    .where(intake_outbox.c.message_key == demand_id)).all()
    assert json.loads(headers)["ce_id"] == event_id
    suite.pump()
    assert routing_state(suite, event_id, demand_id) == (1, 1)
    assert consumed("routing", "handled") == handled + 1
    assert consumed("sla", "duplicate") == sla_duplicates + 1  # SLA had it already: deduped
    with intake.sessions() as session:
        assert session.get(Demand, demand_id).status == "assigned"

    # Any further re-publication (a DLQ replay, a sweep that raced the projection) is deduped.
    duplicates = consumed("routing", "duplicate")
    with unit_of_work(intake.sessions) as session:
        announce.submitted(session, session.get(Demand, demand_id))
    suite.pump()
    assert consumed("routing", "duplicate") == duplicates + 1
    assert routing_state(suite, event_id, demand_id) == (1, 1)
    with intake.sessions() as session:
        assigned = session.scalar(select(func.count()).select_from(TimelineEntry)
                                  .where(TimelineEntry.demand_id == demand_id, TimelineEntry.kind == "assigned"))
    assert assigned == 1  # routing announced the assignment once
