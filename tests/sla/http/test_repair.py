"""SLA repairs the clocks of a demand whose ``submitted`` it never got, from the demand's ``assigned``.

China's calendar and the shipped policy (1 working day to the first response on the grid, 60 business
seconds online; 5 / 10 working days to resolve a simple / complex demand), 09:00-17:00 Asia/Shanghai.
National Day 2026 is Thu 10-01 .. Wed 10-07, Sat 10-10 a make-up workday; 10-17/18 are an ordinary weekend.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, insert, select

from intake_service.model import Demand
from shared.contracts.events import CloudEvent, new_event
from sla_service.model import ClockRow, TimedDemand, processed_events
from tests.helpers import demand_body
from tests.sla.conftest import sh

ENTERPRISE = {"uscc": "91310110MA1G8XXXXX", "name": "某公司", "key_enterprise": True}


def repairs(outcome: str) -> float:
    return REGISTRY.get_sample_value("yangpu_sla_clocks_repaired_total", {"outcome": outcome}) or 0.0


def clocks(sla: Any, demand_id: str) -> dict[str, dict]:
    resp = sla.client.get(f"/api/v1/sla/demands/{demand_id}", headers=sla.auth("admin"))
    assert resp.status_code == 200, resp.get_json()
    return {c["kind"]: c for c in resp.get_json()["clocks"]}


def same_instant(text: str | None, expected: datetime) -> bool:
    return text is not None and datetime.fromisoformat(text) == expected


def submitted(demand_id: str, reported_at: datetime, channel: str, complexity: str) -> CloudEvent:
    return new_event("yangpu.demand.submitted.v1", {
        "demand_id": demand_id, "channel": channel, "street": "wujiaochang", "category": "taxation",
        "complexity": complexity, "title": "开票问题", "enterprise": ENTERPRISE, "reported_at": reported_at,
        "received_at": reported_at}, source="/test")


def lose_for_sla(sla: Any, event: CloudEvent) -> None:
    """Publish ``event`` where SLA dedupes it away, as if it had been dead-lettered and never replayed."""
    with sla.sessions.begin() as session:
        session.execute(insert(processed_events).values(
            consumer_group=sla.worker.spec.group, event_id=event.get_id(), processed_at=time.time()))
    sla.republish(event)


def assign(sla: Any, demand_id: str, at: datetime, facts: dict[str, Any] | None) -> None:
    """Routing's ``assigned``; ``facts`` None: as routing sent it before it repeated the demand's facts."""
    sla.act("assigned", demand_id, at, officer_id="com-1", officer_kind="street_commissioner",
            rule="street_commissioner", queue="officer", **(facts or {}))


def facts(reported_at: datetime, channel: str, complexity: str) -> dict[str, Any]:
    return {"channel": channel, "category": "taxation", "complexity": complexity, "key_enterprise": True,
            "reported_at": reported_at}


@pytest.mark.both_backends
def test_assigned_opens_the_clocks_submitted_would_have_at_the_original_instant(real_rules, sla):
    real_rules.set(sh(2026, 10, 8, 9))  # the first working morning after National Day
    before = repairs("repaired")
    # Wed 09-30 16:30, grid, simple: half an hour that day, National Day off, then Thu 10-08.
    eve = str(uuid.uuid4())
    eve_submitted = submitted(eve, sh(2026, 9, 30, 16, 30), "grid", "simple")
    lose_for_sla(sla, eve_submitted)
    assign(sla, eve, sh(2026, 10, 8, 9), facts(sh(2026, 9, 30, 16, 30), "grid", "simple"))
    # Sun 10-04 11:00 (a holiday), online help desk, complex: the clocks start Thu 10-08 09:00.
    holiday = str(uuid.uuid4())
    lose_for_sla(sla, submitted(holiday, sh(2026, 10, 4, 11), "online_helpdesk", "complex"))
    assign(sla, holiday, sh(2026, 10, 8, 9), facts(sh(2026, 10, 4, 11), "online_helpdesk", "complex"))
    sla.pump()

    eve_clocks = clocks(sla, eve)
    assert same_instant(eve_clocks["first_response"]["started_at"], sh(2026, 9, 30, 16, 30))
    # 8 h: 0.5 h on 09-30, 7.5 h on 10-08.
    assert same_instant(eve_clocks["first_response"]["target_at"], sh(2026, 10, 8, 16, 30))
    # 40 h: 0.5 h on 09-30; 10-08, 10-09, Sat 10-10, Mon 10-12 (32.5 h); 7.5 h on Tue 10-13.
    assert same_instant(eve_clocks["resolution"]["target_at"], sh(2026, 10, 13, 16, 30))

    holiday_clocks = clocks(sla, holiday)
    assert same_instant(holiday_clocks["first_response"]["started_at"], sh(2026, 10, 8, 9))
    assert same_instant(holiday_clocks["first_response"]["target_at"], sh(2026, 10, 8, 9, 1))
    # 80 h: 10-08, 10-09, 10-10, 10-12 .. 10-16, 10-19, 10-20 (ten working days).
    assert same_instant(holiday_clocks["resolution"]["target_at"], sh(2026, 10, 20, 17))

    assert repairs("repaired") == before + 2
    with sla.sessions() as session:
        timed = session.get(TimedDemand, eve)
        assert (timed.channel, timed.category, timed.complexity, timed.key_enterprise) == (
            "grid", "taxation", "simple", True)
        assert timed.reported_at == sh(2026, 9, 30, 16, 30)
        assert str(timed.report_day) == "2026-09-30"
    assert sorted(u.data["kind"] for u in sla.events("clock_updated", eve)) == ["first_response", "resolution"]

    # The dead-lettered submitted, replayed after the repair (not recorded as processed): nothing changes.
    with sla.sessions.begin() as session:
        session.execute(processed_events.delete().where(processed_events.c.event_id == eve_submitted.get_id()))
    sla.republish(eve_submitted)
    sla.pump()
    assert clocks(sla, eve) == eve_clocks
    assert len(sla.events("clock_updated", eve)) == 2
    assert repairs("repaired") == before + 2


def test_a_normal_flow_repairs_nothing(real_rules, sla):
    real_rules.set(sh(2026, 10, 8, 9))
    before = repairs("repaired"), repairs("unrepairable")
    demand_id = str(uuid.uuid4())
    sla.republish(submitted(demand_id, sh(2026, 9, 30, 16, 30), "grid", "simple"))
    sla.pump()
    opened = clocks(sla, demand_id)
    assign(sla, demand_id, sh(2026, 10, 8, 9), facts(sh(2026, 9, 30, 16, 30), "grid", "simple"))
    assign(sla, demand_id, sh(2026, 10, 8, 10), None)  # a reassignment, as an older routing sent it
    sla.pump()
    assert clocks(sla, demand_id) == opened
    assert len(sla.events("clock_updated", demand_id)) == 2
    assert (repairs("repaired"), repairs("unrepairable")) == before


def test_an_assignment_without_the_demand_facts_is_counted_unrepairable(real_rules, sla):
    real_rules.set(sh(2026, 10, 8, 9))
    before = repairs("unrepairable"), repairs("repaired")
    dead_before = REGISTRY.get_sample_value("yangpu_dead_letters_total",
                                            {"service": "sla", "topic": "demand.events"}) or 0.0
    demand_id = str(uuid.uuid4())
    lose_for_sla(sla, submitted(demand_id, sh(2026, 9, 30, 16, 30), "grid", "simple"))
    assign(sla, demand_id, sh(2026, 10, 8, 9), None)
    sla.pump()
    assert (repairs("unrepairable"), repairs("repaired")) == (before[0] + 1, before[1])
    assert (REGISTRY.get_sample_value("yangpu_dead_letters_total",
                                      {"service": "sla", "topic": "demand.events"}) or 0.0) == dead_before
    with sla.sessions() as session:
        assert session.get(TimedDemand, demand_id) is None
    assert sla.events() == []


@pytest.mark.both_backends
def test_routing_assignments_carry_what_the_repair_needs(suite):
    """End to end: intake logs, SLA never gets ``submitted``, routing's ``assigned`` has SLA time it."""
    before = repairs("repaired")
    hotline = suite.auth("hotline_agent", "hotline-01")
    reported = datetime.now(sh(2026, 1, 1).tzinfo).replace(microsecond=0)
    body = demand_body(street="dinghai", channel="hotline_12345", key=True, complexity="complex",
                       reported_at=reported.isoformat())
    resp = suite.clients["intake"].post("/api/v1/demands", json=body, headers=hotline)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    with suite.workers["intake"].sessions() as session:
        event_id = session.get(Demand, demand_id).submitted_event_id
    sla = suite.workers["sla"]
    with sla.sessions.begin() as session:
        session.execute(insert(processed_events).values(consumer_group=sla.spec.group, event_id=event_id,
                                                        processed_at=time.time()))
    suite.pump()

    assert repairs("repaired") == before + 1
    with suite.workers["sla"].sessions() as session:
        timed = session.get(TimedDemand, demand_id)
        assert (timed.street, timed.channel, timed.category, timed.complexity, timed.key_enterprise) == (
            "dinghai", "hotline_12345", "taxation", "complex", True)
        assert timed.reported_at == reported
        assert session.scalar(select(func.count()).select_from(ClockRow).where(ClockRow.demand_id == demand_id)) == 2
