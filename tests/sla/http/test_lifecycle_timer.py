"""The timer's guarantees hold through the lifecycle of issue 15: an extended clock breaches at its new target
(on the first step at or after it, exactly once), a cancelled clock never fires, and the states SLA keeps.

Tiny targets on an all-day calendar (resolution of a simple demand: 20 business seconds, warning at 16 s).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sla_service.model import ClockRow, TimedDemand

S = timedelta(seconds=1)
MS = timedelta(milliseconds=1)


def stored(sla, demand_id: str, kind: str = "resolution") -> ClockRow:
    with sla.sessions() as session:
        return session.get(ClockRow, (demand_id, kind))


def state(sla, demand_id: str) -> str:
    with sla.sessions() as session:
        return session.get(TimedDemand, demand_id).state


@pytest.mark.both_backends
def test_an_extended_clock_breaches_at_its_new_target_once(tiny_rules, sla):
    t0 = tiny_rules()
    demand = sla.submit(reported_at=t0)
    sla.pump()
    tiny_rules.set(t0 + 5 * S)
    sla.act("extension_approved", demand, t0 + 5 * S, working_days=0.001, business_seconds=20)
    sla.pump()
    row = stored(sla, demand)
    assert (row.business_seconds_target, row.business_seconds_extended) == (40, 20)
    assert row.target_at == t0 + 40 * S and row.next_fire_at == t0 + 32 * S  # 80 % of 40 s
    updated = sla.events("clock_updated", demand, "resolution")[-1]
    assert updated.data["business_seconds_target"] == 40 and updated.data["target_at"] == t0 + 40 * S

    tiny_rules.set(t0 + 20 * S)  # the old target: nothing due any more
    sla.pump()
    assert not sla.events("warning", demand, "resolution") and not sla.events("breached", demand, "resolution")
    tiny_rules.set(t0 + 40 * S - MS)  # (the clock model allows a microsecond of slack)
    sla.pump()
    assert len(sla.events("warning", demand, "resolution")) == 1 and not sla.events("breached", demand, "resolution")
    tiny_rules.set(t0 + 40 * S)
    sla.worker.step(0)  # one loop iteration
    sla.pump()
    (breach,) = sla.events("breached", demand, "resolution")
    assert breach.data["target_at"] == t0 + 40 * S and stored(sla, demand).breached_at == t0 + 40 * S
    tiny_rules.set(t0 + 90 * S)
    sla.pump()
    assert len(sla.events("breached", demand, "resolution")) == 1


@pytest.mark.both_backends
def test_a_withdrawn_demand_fires_nothing_later_but_keeps_the_breach_it_had(tiny_rules, sla):
    t0 = tiny_rules()
    demand = sla.submit(reported_at=t0)  # first response: 10 s
    sla.pump()
    tiny_rules.set(t0 + 12 * S)  # the first response breached at 10 s ...
    sla.act("withdrawn", demand, t0 + 12 * S)  # ... before the withdrawal
    sla.pump()
    tiny_rules.set(t0 + 5 * 60 * S)  # every target long past
    sla.pump()
    first, resolution = stored(sla, demand, "first_response"), stored(sla, demand)
    assert (first.status, first.breached_at, first.next_fire_at) == ("cancelled", t0 + 10 * S, None)
    assert (resolution.status, resolution.breached_at, resolution.next_fire_at) == ("cancelled", None, None)
    assert [e.data["kind"] for e in sla.events("breached", demand)] == ["first_response"]
    assert not sla.events("warning", demand, "resolution")
    assert state(sla, demand) == "withdrawn"


def test_review_send_back_and_a_late_close_keep_what_they_should(tiny_rules, sla):
    t0 = tiny_rules()
    reviewed, withdrawn = sla.submit(reported_at=t0), sla.submit(reported_at=t0)
    sla.pump()
    tiny_rules.set(t0 + 4 * S)
    sla.act("acknowledged", reviewed, t0 + 1 * S)
    sla.act("resolved", reviewed, t0 + 2 * S, outcome="resolved", review=True)
    sla.pump()
    assert state(sla, reviewed) == "under_review" and stored(sla, reviewed).status == "met"
    sla.act("sent_back", reviewed, t0 + 4 * S, reason="附件缺失")
    sla.pump()
    row = stored(sla, reviewed)
    assert state(sla, reviewed) == "open" and row.status == "running" and row.business_seconds_used == 2
    assert row.target_at == t0 + 22 * S  # 18 s left from the send-back: the 2 s in review do not count

    sla.act("withdrawn", withdrawn, t0 + 3 * S)
    sla.act("closed", withdrawn, t0 + 4 * S)  # a close after it (should routing send one) does not count it
    sla.act("reopened", withdrawn, t0 + 4 * S)
    sla.pump()
    assert state(sla, withdrawn) == "withdrawn" and stored(sla, withdrawn).status == "cancelled"
    body = sla.client.get("/api/v1/sla/summary", headers=sla.auth("admin")).get_json()
    assert (body["demands"], body["withdrawn"], body["resolution_rate"]["denominator"]) == (1, 1, 0)
