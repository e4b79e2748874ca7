"""SLA follows each lifecycle event (China's calendar, the shipped policy, hand-worked 2026 dates).

March 2026 has no holidays (03-02 is a Monday); National Day 2026 is 10-01..10-07 with Saturday 10-10 a
make-up workday. One working day is 8 business hours, 09:00-17:00 Asia/Shanghai.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import REGISTRY
from sqlalchemy import select

from sla_service.model import ClockRow, TimedDemand
from tests.sla.conftest import sh

HOUR = 3600


def clocks(sla, demand_id: str) -> dict[str, dict]:
    resp = sla.client.get(f"/api/v1/sla/demands/{demand_id}", headers=sla.auth("admin"))
    assert resp.status_code == 200, resp.get_json()
    return {c["kind"]: c for c in resp.get_json()["clocks"]}


def announced(sla, demand_id: str, kind: str) -> list[str]:
    """The statuses the ``kind`` clock's clock_updated events announced, in order (what routing and intake see)."""
    return [u.data["status"] for u in sla.events("clock_updated", demand_id, kind)]


def iso(t: datetime) -> str:
    return t.astimezone(sh(2026, 1, 1).tzinfo).isoformat()


def same_instant(text: str | None, expected: datetime) -> bool:
    return text is not None and datetime.fromisoformat(text) == expected


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_submitted_opens_both_clocks_from_the_next_business_instant(real_rules, sla):
    real_rules.set(sh(2026, 3, 14, 10))
    # Saturday 03-14 10:00 -> the clocks start Monday 03-16 09:00.
    grid = sla.submit(reported_at=sh(2026, 3, 14, 10), channel="grid", complexity="complex")
    helpdesk = sla.submit(reported_at=sh(2026, 3, 13, 16, 59, 30), channel="online_helpdesk", complexity="difficult")
    sla.pump()

    body = sla.client.get(f"/api/v1/sla/demands/{grid}", headers=sla.auth("admin")).get_json()
    assert body["demand_id"] == grid
    assert body["policy"]["channel"] == "grid" and body["policy"]["complexity"] == "complex"
    first, resolution = body["clocks"]
    assert first["kind"] == "first_response" and resolution["kind"] == "resolution"
    assert first["status"] == resolution["status"] == "running"
    assert same_instant(first["started_at"], sh(2026, 3, 16, 9))
    assert first["started_at"].endswith("Z")  # RFC 3339 in UTC (shared.instants)
    assert first["business_seconds_target"] == 28_800
    assert same_instant(first["target_at"], sh(2026, 3, 16, 17))  # one working day
    assert resolution["business_seconds_target"] == 10 * 28_800
    assert same_instant(resolution["target_at"], sh(2026, 3, 27, 17))  # ten working days, two weekends
    assert first["stopped_at"] is None and first["business_seconds_used"] == 0

    # Friday 16:59:30 online: 30 business seconds that day, the other 30 on Monday morning.
    helpdesk_first = clocks(sla, helpdesk)["first_response"]
    assert helpdesk_first["business_seconds_target"] == 60
    assert same_instant(helpdesk_first["target_at"], sh(2026, 3, 16, 9, 0, 30))
    # Thirty working days: 30 s on 03-13, 29 full days to Fri 04-24 (Qingming Monday 04-06 is off), then
    # 8 h - 30 s on Mon 04-27.
    assert same_instant(clocks(sla, helpdesk)["resolution"]["target_at"], sh(2026, 4, 27, 16, 59, 30))

    updates = sla.events("clock_updated", grid)
    assert sorted(u.data["kind"] for u in updates) == ["first_response", "resolution"]
    assert all(u.data["status"] == "running" and u.data["street"] == "wujiaochang" for u in updates)
    assert {u.event.get_subject() for u in updates} == {grid}  # keyed by the demand id
    assert not sla.events("warning") and not sla.events("breached")


def test_a_second_submitted_for_the_same_demand_changes_nothing(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9), complexity="simple")
    sla.pump()
    sla.submit(demand_id=demand, reported_at=sh(2026, 3, 2, 10), complexity="difficult")
    sla.pump()
    assert clocks(sla, demand)["resolution"]["business_seconds_target"] == 5 * 28_800
    assert len(sla.events("clock_updated", demand)) == 2


def test_acknowledged_in_time_stops_first_response_met(real_rules, sla):
    real_rules.set(sh(2026, 3, 16, 11))
    demand = sla.submit(reported_at=sh(2026, 3, 16, 9), channel="grid")
    sla.pump()
    met_before = sample("yangpu_sla_clocks_met_total", kind="first_response", street="wujiaochang", channel="grid")
    le_2h_before = sample("yangpu_sla_first_response_seconds_bucket", street="wujiaochang", channel="grid",
                          le="7200.0")
    ack = sla.act("acknowledged", demand, sh(2026, 3, 16, 11))
    sla.pump()
    sla.republish(ack)  # a redelivery: deduplicated, changes and counts nothing
    sla.pump()

    first = clocks(sla, demand)["first_response"]
    assert first["status"] == "met"
    assert first["business_seconds_used"] == 2 * HOUR
    assert same_instant(first["stopped_at"], sh(2026, 3, 16, 11))
    assert first["target_at"] is None
    assert clocks(sla, demand)["resolution"]["status"] == "running"  # resolution keeps going
    assert announced(sla, demand, "first_response") == ["running", "met"]
    assert sample("yangpu_sla_clocks_met_total", kind="first_response", street="wujiaochang",
                  channel="grid") == met_before + 1
    assert sample("yangpu_sla_first_response_seconds_bucket", street="wujiaochang", channel="grid",
                  le="7200.0") == le_2h_before + 1


def test_late_acknowledgement_is_a_breach_reported_once(real_rules, sla):
    # The timer has not run yet ("now" is still at the report), the officer answers after the minute.
    real_rules.set(sh(2026, 3, 17, 10))
    demand = sla.submit(reported_at=sh(2026, 3, 17, 10), channel="online_helpdesk", key=True)
    sla.pump()
    breached_before = sample("yangpu_sla_clocks_breached_total", kind="first_response", street="wujiaochang",
                             channel="online_helpdesk", category="taxation", key_enterprise="true")
    sla.act("acknowledged", demand, sh(2026, 3, 17, 10, 5))
    sla.act("acknowledged", demand, sh(2026, 3, 17, 10, 6))  # a second acknowledgement: no-op
    sla.pump()

    first = clocks(sla, demand)["first_response"]
    assert first["status"] == "breached"
    assert first["business_seconds_used"] == 300
    assert same_instant(first["target_at"], sh(2026, 3, 17, 10, 1))  # a breached clock keeps its target
    assert [e.data["status"] for e in sla.events("breached", demand)] == ["breached"]
    assert len(sla.events("warning", demand)) == 1
    assert announced(sla, demand, "first_response") == ["running", "breached"]
    assert sample("yangpu_sla_clocks_breached_total", kind="first_response", street="wujiaochang",
                  channel="online_helpdesk", category="taxation", key_enterprise="true") == breached_before + 1
    with sla.sessions() as session:
        row = session.get(ClockRow, (demand, "first_response"))
        assert row.breached_at == sh(2026, 3, 17, 10, 1)  # the instant the minute ran out
        assert row.next_fire_at is None


def test_materials_pause_and_resume_resolution_over_national_day(real_rules, sla):
    real_rules.set(sh(2026, 9, 29, 9))
    demand = sla.submit(reported_at=sh(2026, 9, 29, 9), complexity="simple")
    sla.pump()
    assert same_instant(clocks(sla, demand)["resolution"]["target_at"], sh(2026, 10, 10, 17))

    sla.act("materials_requested", demand, sh(2026, 9, 30, 12), note="营业执照复印件")
    sla.pump()
    paused = clocks(sla, demand)["resolution"]
    assert paused["status"] == "paused"
    assert paused["target_at"] is None
    assert paused["business_seconds_used"] == 11 * HOUR
    real_rules.set(sh(2026, 10, 9, 9))
    assert clocks(sla, demand)["resolution"]["business_seconds_used"] == 11 * HOUR  # frozen over the holiday
    # Waiting for materials excuses no answer: first response ran out 09-29 17:00 and still runs.
    first = clocks(sla, demand)["first_response"]
    assert first["status"] == "breached" and first["stopped_at"] is None

    sla.act("materials_received", demand, sh(2026, 10, 9, 10))
    sla.pump()
    resumed = clocks(sla, demand)["resolution"]
    assert resumed["status"] == "running"
    # 29 h left: Fri 10-09 7 h, make-up Sat 10-10 8 h, Mon 10-12 8 h, Tue 10-13 09:00 + 6 h.
    assert same_instant(resumed["target_at"], sh(2026, 10, 13, 15))
    assert announced(sla, demand, "resolution") == ["running", "paused", "running"]


def test_resolved_stops_both_clocks_and_records_the_outcome(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 10))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    before = sample("yangpu_sla_resolutions_total", outcome="explained", street="wujiaochang", channel="grid",
                    category="taxation")
    sla.act("resolved", demand, sh(2026, 3, 2, 15), outcome="explained", note="政策解释")
    sla.pump()

    both = clocks(sla, demand)
    assert both["first_response"]["status"] == "met"  # a resolution answers the enterprise too
    assert both["first_response"]["business_seconds_used"] == 6 * HOUR
    assert both["resolution"]["status"] == "met"
    assert same_instant(both["resolution"]["stopped_at"], sh(2026, 3, 2, 15))
    with sla.sessions() as session:
        timed = session.get(TimedDemand, demand)
        assert (timed.state, timed.outcome, timed.closed_at) == ("resolved", "explained", sh(2026, 3, 2, 15))
        assert session.scalars(select(ClockRow.next_fire_at).where(ClockRow.demand_id == demand)).all() == [
            None, None]
    assert sample("yangpu_sla_resolutions_total", outcome="explained", street="wujiaochang", channel="grid",
                  category="taxation") == before + 1


def test_reopened_resumes_resolution_from_the_time_already_used(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    sla.act("acknowledged", demand, sh(2026, 3, 2, 9, 30))
    sla.act("resolved", demand, sh(2026, 3, 3, 13), outcome="resolved")
    sla.act("feedback_received", demand, sh(2026, 3, 4, 9), satisfaction="unsatisfied")
    sla.act("reopened", demand, sh(2026, 3, 5, 10), reason="企业不满意")
    sla.pump()

    both = clocks(sla, demand)
    assert both["first_response"]["status"] == "met"  # never reopened
    resolution = both["resolution"]
    assert resolution["status"] == "running" and resolution["stopped_at"] is None
    # 12 h used before the resolution; 28 h left from Thu 03-05 10:00 -> Tue 03-10 14:00.
    assert same_instant(resolution["target_at"], sh(2026, 3, 10, 14))
    with sla.sessions() as session:
        timed = session.get(TimedDemand, demand)
        assert timed.state == "open" and timed.closed_at is None  # no longer counts as closed
    assert announced(sla, demand, "resolution") == ["running", "met", "running"]


def test_transfers_and_escalations_restart_nothing(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 11))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    before = clocks(sla, demand)
    sla.act("assigned", demand, sh(2026, 3, 2, 9, 1), officer_id="com-1", officer_kind="street_commissioner",
            rule="street_commissioner", queue="officer")
    sla.act("transferred", demand, sh(2026, 3, 2, 10), to_department="tax_bureau", reason="专业问题")
    sla.act("escalated", demand, sh(2026, 3, 2, 10, 30), reason="久拖未决")
    sla.pump()
    assert clocks(sla, demand) == before
    assert len(sla.events("clock_updated", demand)) == 2  # only the two openings


def test_events_about_a_demand_sla_never_timed_are_ignored(real_rules, sla):
    dead_before = sample("yangpu_dead_letters_total", service="sla", topic="demand.events")
    sla.act("acknowledged", "no-such-demand", sh(2026, 3, 2, 10))
    sla.act("resolved", "no-such-demand", sh(2026, 3, 2, 11), outcome="resolved")
    sla.pump()
    assert sla.events() == []
    assert sample("yangpu_dead_letters_total", service="sla", topic="demand.events") == dead_before
    with sla.sessions() as session:
        assert session.scalars(select(ClockRow)).all() == []
        assert session.scalars(select(TimedDemand)).all() == []


def test_a_pause_processed_after_the_target_still_reports_the_breach(real_rules, sla):
    # The worker was down when the target passed; the pause that happened later arrives first.
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9), complexity="simple")
    sla.pump()
    sla.act("materials_requested", demand, sh(2026, 3, 10, 9))  # 6 working days later: past the 5
    sla.pump()
    resolution = clocks(sla, demand)["resolution"]
    assert resolution["status"] == "breached"
    assert [e.data["kind"] for e in sla.events("breached", demand)] == ["first_response", "resolution"]
    with sla.sessions() as session:
        assert session.get(ClockRow, (demand, "resolution")).breached_at == sh(2026, 3, 6, 17)
    real_rules.set(sh(2026, 3, 20, 9))
    sla.act("materials_received", demand, sh(2026, 3, 12, 9))
    sla.pump()
    assert len(sla.events("breached", demand, "resolution")) == 1  # never twice
    resumed = clocks(sla, demand)["resolution"]
    assert resumed["status"] == "breached" and same_instant(resumed["target_at"], sh(2026, 3, 6, 17))


def test_closed_without_resolution_stops_the_clocks(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 10))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    sla.act("closed", demand, sh(2026, 3, 2, 12))
    sla.pump()
    both = clocks(sla, demand)
    assert {k: c["status"] for k, c in both.items()} == {"first_response": "met", "resolution": "met"}
    with sla.sessions() as session:
        timed = session.get(TimedDemand, demand)
        assert (timed.state, timed.outcome, timed.closed_at) == ("closed", None, sh(2026, 3, 2, 12))
