"""A demand's ``submitted`` and its clock news handled in one batch (one transaction, where routing keeps the
assignment it added or locked between events) leave its projection exactly as the same events handled one batch
each, in either order: the clocks first (held as early clocks) or the demand first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from routing_service.model import processed_events
from shared.contracts import events
from tests.routing.conftest import clock, submitted

T0 = datetime.now(UTC).replace(microsecond=0)
NEWS = (  # the clock events sla sends for one demand, in order
    {"kind": "first_response", "target_at": T0 + timedelta(hours=8), "at": T0},
    {"kind": "resolution", "target_at": T0 + timedelta(days=7), "at": T0},
    {"kind": "resolution", "status": "paused", "used": 3600.0, "at": T0 + timedelta(hours=1)},
)
PROJECTED = ("state", "officer_id", "sla", "first_response_due", "resolution_due", "next_due")


def _events(routing, demand_id: str, clocks_first: bool, one_batch_each: bool) -> None:
    publish = [lambda: routing.publish(events.SUBMITTED, submitted(demand_id=demand_id, channel="fallback_window"))]
    news = [lambda n=n: routing.publish(events.CLOCK_UPDATED, clock(demand_id, **n)) for n in NEWS]
    for step in (news + publish if clocks_first else publish + news):
        step()
        if one_batch_each:
            routing.pump()
    routing.pump()


def _projection(routing, demand_id: str) -> dict[str, Any]:
    a = routing.assignment(demand_id)
    return {name: getattr(a, name) for name in PROJECTED}


@pytest.mark.parametrize("clocks_first", [False, True], ids=["demand first", "clocks first"])
def test_a_batch_of_one_demands_events_equals_them_one_batch_each(routing, clocks_first):
    together, alone = "00000000-0000-4000-8000-00000000b001", "00000000-0000-4000-8000-00000000b002"
    _events(routing, together, clocks_first, one_batch_each=False)
    _events(routing, alone, clocks_first, one_batch_each=True)

    with routing.session() as s:  # the premise: one transaction for the first demand, one per event for the other
        batches = set(s.scalars(select(processed_events.c.processed_at)))
    assert len(batches) == 1 + 1 + len(NEWS)

    batched = _projection(routing, together)
    assert batched["state"] == "assigned" and batched["sla"]["resolution"]["status"] == "paused"
    assert batched["first_response_due"] == NEWS[0]["target_at"]
    assert batched == _projection(routing, alone)
