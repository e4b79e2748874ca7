"""The resend sweep (intake_service.timers), with the real routing and sla services on both backends.

A demand whose ``submitted`` event was lost before the relay published it stays ``submitted`` in intake; the
sweep re-publishes the original event (same id, time and bytes) once the demand is old enough, backs off,
and the demand ends up routed and clocked exactly once. The passes are run with a chosen "now"; the
worker's own timer runs them in real time, where these demands are never old enough to matter.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete, func, select

from intake_service.commands import resend_unrouted
from intake_service.domain.policy import MAX_RESEND_GAP
from intake_service.model import Demand, TimelineEntry, outbox
from routing_service.model import Assignment
from sla_service.model import ClockRow, TimedDemand
from tests.harness import Harness
from tests.helpers import demand_body

pytestmark = pytest.mark.both_backends

AFTER_S = 60
SECOND = timedelta(seconds=1)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def log_demand(suite: Harness) -> str:
    grid = suite.auth("grid_worker", "grid-wujiaochang-01", "wujiaochang")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(), headers=grid)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def outbox_rows(suite: Harness, demand_id: str) -> list[Any]:
    with suite.workers["intake"].sessions() as session:
        return session.execute(select(outbox).where(outbox.c.message_key == demand_id).order_by(outbox.c.id)).all()


def demand(suite: Harness, demand_id: str) -> Demand:
    with suite.workers["intake"].sessions() as session:
        return session.get(Demand, demand_id)


def sweep(suite: Harness, now: Any) -> int:
    return resend_unrouted(suite.workers["intake"].sessions, AFTER_S, now)


def unrouted_gauge() -> float:
    return sample("yangpu_intake_unrouted_demands")


def test_a_lost_submitted_event_is_resent_as_itself_with_back_off_then_handled_once(suite):
    demand_id = log_demand(suite)
    [original] = outbox_rows(suite, demand_id)
    with suite.workers["intake"].sessions.begin() as session:  # the relay "loses" it
        session.execute(delete(outbox).where(outbox.c.message_key == demand_id))
    suite.pump()
    received = demand(suite, demand_id).received_at
    assert demand(suite, demand_id).status == "submitted"
    resent_before = sample("yangpu_intake_resends_total")

    # Not before the age; at the age, the original event: same id, time, headers and data, byte for byte.
    assert sweep(suite, received + timedelta(seconds=AFTER_S) - SECOND) == 0
    assert unrouted_gauge() == 0
    assert outbox_rows(suite, demand_id) == []
    first_at = received + timedelta(seconds=AFTER_S)
    assert sweep(suite, first_at) == 1
    assert unrouted_gauge() == 1
    [copy] = outbox_rows(suite, demand_id)
    assert json.loads(copy.headers)["ce_id"] == json.loads(original.headers)["ce_id"]
    assert (copy.topic, copy.headers, copy.value) == (original.topic, original.headers, original.value)

    # Back-off: never while the copy still waits in the outbox; then 120 s, 240 s, ... capped at an hour.
    # Only intake's relay runs meanwhile: routing has not consumed any copy yet.
    relay = suite.workers["intake"].relay
    previous = first_at
    gaps = []
    for _ in range(7):
        next_at = demand(suite, demand_id).next_resend_at
        assert sweep(suite, next_at) == 0  # its copy has not left the outbox
        relay.run_once()
        assert sweep(suite, next_at - SECOND) == 0
        assert sweep(suite, next_at) == 1
        assert unrouted_gauge() == 1
        gaps.append((next_at - previous).total_seconds())
        previous = next_at
    assert gaps == [120, 240, 480, 960, 1920, 3600, 3600]
    assert demand(suite, demand_id).resends == 8
    assert sample("yangpu_intake_resends_total") - resent_before == 8

    # Eight copies of one event on the bus: routed once, clocked once, shown assigned once.
    duplicates_before = sample("yangpu_events_consumed_total", service="routing",
                               type="yangpu.demand.submitted.v1", outcome="duplicate")
    suite.pump()
    assert sample("yangpu_events_consumed_total", service="routing", type="yangpu.demand.submitted.v1",
                  outcome="duplicate") - duplicates_before == 7
    with suite.workers["routing"].sessions() as session:
        assert session.scalar(select(func.count()).select_from(Assignment)
                              .where(Assignment.demand_id == demand_id)) == 1
    with suite.workers["sla"].sessions() as session:
        assert session.get(TimedDemand, demand_id) is not None
        assert session.scalar(select(func.count()).select_from(ClockRow).where(ClockRow.demand_id == demand_id)) == 2
    with suite.workers["intake"].sessions() as session:
        kinds = session.scalars(select(TimelineEntry.kind).where(TimelineEntry.demand_id == demand_id)).all()
    assert kinds == ["assigned"]
    assert demand(suite, demand_id).status == "assigned"

    # Routed: no more resends, and the gauge is back to 0.
    assert sweep(suite, previous + 10 * MAX_RESEND_GAP) == 0
    assert unrouted_gauge() == 0


def test_a_demand_waiting_in_the_outbox_is_counted_but_left_to_the_relay(suite):
    demand_id = log_demand(suite)
    received = demand(suite, demand_id).received_at
    late = received + timedelta(seconds=AFTER_S + 30)
    # The relay has not run (an outage, say): the demand is unrouted and counted, but not resent.
    assert sweep(suite, late) == 0
    assert unrouted_gauge() == 1
    assert len(outbox_rows(suite, demand_id)) == 1

    suite.pump()
    assert demand(suite, demand_id).status == "assigned"
    assert sweep(suite, late) == 0
    assert unrouted_gauge() == 0
    assert demand(suite, demand_id).resends == 0
