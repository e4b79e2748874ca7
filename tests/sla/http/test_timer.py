"""The timer fires warnings and breaches at their instants, exactly once, across restarts and workers.

"Now" is the injected clock of the SLA context, so the tests say when time has come instead of waiting
for it: the breach must be in the outbox after the first loop step at or after ``target_at`` (the loop
steps every ~10 ms when idle, so that is the "within 1 s" promise; ``bench/sla_bench.py`` measures the
real lag). Every instant of today counts in these tests and targets are a few business seconds.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from shared.worker import Worker
from sla_service.bootstrap import Context, bootstrap, worker_spec
from sla_service.commands import fire_due_clocks
from sla_service.model import ClockRow, outbox

US = timedelta(microseconds=1)


def stored(sla, demand_id: str, kind: str) -> ClockRow:
    with sla.sessions() as session:
        return session.get(ClockRow, (demand_id, kind))


def outbox_types(sla) -> list[str]:
    with sla.sessions() as session:
        return [row.headers for row in session.execute(select(outbox.c.headers)).all()]


@pytest.mark.both_backends
def test_breach_fires_on_the_first_step_at_its_target_and_only_once(tiny_rules, sla):
    reported = tiny_rules()
    demand = sla.submit(reported_at=reported, channel="online_helpdesk")  # 2 business seconds to answer
    sla.pump()
    first = stored(sla, demand, "first_response")
    assert first.target_at == reported + timedelta(seconds=2)
    assert first.next_fire_at == reported + timedelta(seconds=1.6)  # the 80 % warning comes first
    assert not sla.events("warning") and not sla.events("breached")

    tiny_rules.set(first.next_fire_at)
    sla.pump()
    assert [w.data["kind"] for w in sla.events("warning", demand)] == ["first_response"]
    assert stored(sla, demand, "first_response").next_fire_at == first.target_at

    tiny_rules.set(first.target_at - US)
    sla.pump()
    assert not sla.events("breached")

    tiny_rules.set(first.target_at)
    sla.worker.step(0)  # one loop iteration: consumer, relay, timer
    assert any("yangpu.sla.breached.v1" in headers for headers in outbox_types(sla))
    sla.pump()
    (breach,) = sla.events("breached", demand)
    assert breach.data["kind"] == "first_response" and breach.data["status"] == "breached"
    assert breach.data["target_at"] == first.target_at
    assert breach.data["at"] >= breach.data["target_at"]
    assert breach.event.get_subject() == demand
    row = stored(sla, demand, "first_response")
    assert (row.status, row.breach_emitted, row.breached_at, row.next_fire_at) == (
        "breached", True, first.target_at, None)

    tiny_rules.set(first.target_at + timedelta(seconds=5))
    sla.pump()
    assert len(sla.events("breached", demand, "first_response")) == 1
    assert len(sla.events("warning", demand, "first_response")) == 1


@pytest.mark.both_backends
def test_a_restart_fires_what_fell_due_while_down_exactly_once(tiny_rules, sla):
    demands = [sla.submit(reported_at=tiny_rules(), channel="online_helpdesk") for _ in range(3)]
    sla.pump()
    sla.worker.close()  # the worker stops ...

    tiny_rules.set(tiny_rules() + timedelta(minutes=5))  # ... every target passes while it is down ...
    sla.workers["sla"] = Worker(worker_spec(sla.ctx), sla.ctx)  # ... and a new one starts
    sla.pump()
    sla.restart_worker()
    sla.pump()

    for demand in demands:
        for kind in ("first_response", "resolution"):
            assert len(sla.events("warning", demand, kind)) == 1
            assert len(sla.events("breached", demand, kind)) == 1
            assert stored(sla, demand, kind).breach_emitted
    with sla.sessions() as session:
        assert session.scalar(select(func.count()).select_from(outbox)) == 0


@pytest.mark.both_backends
def test_two_workers_share_due_clocks_without_double_firing(tiny_rules, sla):
    demands = [sla.submit(reported_at=tiny_rules(), channel="grid") for _ in range(60)]
    sla.pump()
    tiny_rules.set(tiny_rules() + timedelta(minutes=5))
    # Another worker process: a context of its own (its own engine) with the same rules.
    other = bootstrap(sla.settings, calendar=sla.ctx.calendar, policy=sla.ctx.policy, now=sla.ctx.now)
    fired: list[int] = []

    def drain(ctx: Context) -> None:
        total = 0
        while (n := fire_due_clocks(ctx, ctx.sessions)) > 0:
            total += n
        fired.append(total)

    threads = [threading.Thread(target=drain, args=(ctx,)) for ctx in (sla.ctx, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.engine.dispose()
    sla.pump()

    assert sum(fired) == len(demands) * 2  # every clock handled once, by one worker or the other
    breaches = sla.events("breached")
    assert sorted((b.data["demand_id"], b.data["kind"]) for b in breaches) == sorted(
        (d, k) for d in demands for k in ("first_response", "resolution"))
    assert len(sla.events("warning")) == len(demands) * 2


def test_the_real_loop_fires_after_the_target(tiny_rules_live, sla):
    """No injected time here: the breach arrives by itself, and never before its target."""
    demand = sla.submit(reported_at=datetime.now(UTC), channel="online_helpdesk")
    sla.pump()
    target_at = stored(sla, demand, "first_response").target_at
    give_up = time.monotonic() + 30  # a guard against hanging, not a timing assertion
    while not sla.events("breached", demand) and time.monotonic() < give_up:
        sla.worker.step(0.01)
        sla.watch(timeout_s=5)
    (breach,) = sla.events("breached", demand)
    assert breach.data["at"] >= target_at == breach.data["target_at"]
