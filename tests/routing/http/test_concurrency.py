"""Two routing workers in one consumer group on Kafka + PostgreSQL, a burst of demands into one street whose
commissioners have little room: nobody goes over capacity and every demand is assigned exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import replace

import pytest
from sqlalchemy import func, select, update

from routing_service.bootstrap import bootstrap, worker_spec
from routing_service.model import Assignment, Officer
from shared.contracts.events import new_event
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from shared.worker import Worker
from tests.routing.conftest import OFFICER_1, OFFICER_2, make_routing, submitted

BURST = 200
CAPACITY = {OFFICER_1: 7, OFFICER_2: 5}
RAISED = {OFFICER_1: 12, OFFICER_2: 11}


def _wait(predicate, timeout_s: float = 90.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.production
def test_two_workers_never_overfill_an_officer_and_assign_each_demand_once(production, monkeypatch):
    r = make_routing(production, monkeypatch)
    try:
        _two_workers_share_a_burst(r)
    finally:
        r.close()


def _two_workers_share_a_burst(r) -> None:
    # The harness's own worker is never stepped, so it never joins the group: two fresh ones share the burst.
    with r.session() as s:
        for officer_id, capacity in CAPACITY.items():
            s.execute(update(Officer).where(Officer.id == officer_id).values(capacity=capacity))

    handled_by: dict[str, Counter] = defaultdict(Counter)

    def counted(name: str, handler):  # noqa: ANN202 - test wrapper
        def wrapper(session, event, data):
            handler(session, event, data)
            handled_by[name][event.get_type()] += 1
        return wrapper

    workers = []
    for name in ("w1", "w2"):  # two worker processes: a context each
        ctx = bootstrap(r.settings)
        spec = worker_spec(ctx)
        workers.append(Worker(replace(spec, handlers={t: counted(name, h) for t, h in spec.handlers.items()}), ctx))
    threads = [threading.Thread(target=w.run, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        # Both members hold partitions before the burst, so the two really share it.
        _wait(lambda: all(w.processor.consumer.consumer.assignment() for w in workers), what="partition assignment")
        _wait(lambda: sum(len(w.processor.consumer.consumer.assignment()) for w in workers) == 12,
              what="a settled rebalance")
        demands = [submitted() for _ in range(BURST)]
        messages = [to_message(new_event("yangpu.demand.submitted.v1", d, source="/tests")) for d in demands]
        r.producer.send_batch([OutgoingMessage("demand.events", m.key, dict(m.headers), m.value) for m in messages])

        def routed() -> int:
            with r.session() as s:
                return s.scalar(select(func.count()).select_from(Assignment))

        _wait(lambda: routed() == BURST, what="every demand routed")
        _check_loads(r, CAPACITY, assigned=sum(CAPACITY.values()))

        # More room: both workers' retry timers race to fill it.
        with r.session() as s:
            for officer_id, capacity in RAISED.items():
                s.execute(update(Officer).where(Officer.id == officer_id).values(capacity=capacity))

        def held() -> int:
            with r.session() as s:
                return s.scalar(select(func.count()).select_from(Assignment).where(Assignment.officer_id.is_not(None)))

        _wait(lambda: held() == sum(RAISED.values()), what="the raised capacity filled")
        time.sleep(1.0)  # a racing timer would overfill now, if it could
        _check_loads(r, RAISED, assigned=sum(RAISED.values()))
        _wait(lambda: workers[0].relay.depth()[0] == 0, what="the outbox relayed")
    finally:
        for w in workers:
            w.stopping.set()
        for t in threads:
            t.join(timeout=30)

    assert all(handled_by[name]["yangpu.demand.submitted.v1"] > 0 for name in ("w1", "w2")), handled_by
    assert sum(handled_by[name]["yangpu.demand.submitted.v1"] for name in ("w1", "w2")) == BURST

    # one decision per demand, plus one more for each taken from the unassigned queue later
    expected = BURST + sum(RAISED.values()) - sum(CAPACITY.values())

    def all_events() -> bool:
        return len(r.events("yangpu.demand.assigned.v1")) >= expected

    _wait(all_events, what="the assigned events on the bus")
    events = r.events("yangpu.demand.assigned.v1")
    assert len(events) == expected
    by_demand: dict[str, list[dict]] = defaultdict(list)
    for e in events:
        by_demand[e["demand_id"]].append(e)
    assert set(by_demand) == {d["demand_id"] for d in demands}
    with r.session() as s:
        holders = dict(s.execute(select(Assignment.demand_id, Assignment.officer_id)).all())
    for demand_id, evs in by_demand.items():
        to_officer = [e for e in evs if e["queue"] == "officer"]
        assert len(to_officer) <= 1, evs  # never assigned twice
        assert [e["officer_id"] for e in to_officer] == ([holders[demand_id]] if holders[demand_id] else [])
        assert len(evs) - len(to_officer) <= 1  # at most one trip through the unassigned queue


def _check_loads(r, capacity: dict[str, int], assigned: int) -> None:
    with r.session() as s:
        counts = dict(s.execute(select(Assignment.officer_id, func.count()).where(Assignment.officer_id.is_not(None))
                                .group_by(Assignment.officer_id)).all())
        loads = {o: s.get(Officer, o).open_count for o in capacity}
    assert counts == loads == capacity, (counts, loads)
    assert sum(counts.values()) == assigned
