"""The routing rules through routing's real worker: one test per rule, redelivery, and the retries."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.routing.conftest import OFFICER_1, OFFICER_2, submitted


def _assignment(r, demand_id: str, headers: dict[str, str] | None = None) -> dict:
    resp = r.client.get(f"/api/v1/demands/{demand_id}/assignment", headers=headers or r.supervisor_auth())
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


@pytest.mark.both_backends
def test_rule_1_key_enterprise_to_its_chief_officer(routing):
    r = routing
    demand_id = r.submit(key=True, chief="cso-wujiaochang")
    view = _assignment(r, demand_id)
    assert (view["officer_id"], view["officer_kind"], view["rule"]) == (
        "cso-wujiaochang", "chief_service_officer", "key_enterprise_chief_officer")
    assert view["assigned_at"] is not None and view["transfers"] == []
    [event] = r.events("yangpu.demand.assigned.v1", demand_id)
    assert (event["officer_id"], event["rule"], event["queue"]) == (
        "cso-wujiaochang", "key_enterprise_chief_officer", "officer")
    assert r.officer("cso-wujiaochang").open_count == 1


def test_rule_1_chief_at_capacity_falls_through_to_a_commissioner(routing):
    routing.submit(key=True, chief="cso-wujiaochang")  # capacity 1: now full
    demand_id = routing.submit(key=True, chief="cso-wujiaochang")
    assert _assignment(routing, demand_id)["rule"] == "street_commissioner"
    assert routing.officer("cso-wujiaochang").open_count == 1


def test_rule_2_fallback_window_to_the_street_supervisor(routing):
    demand_id = routing.submit(channel="fallback_window")
    view = _assignment(routing, demand_id)
    assert (view["officer_id"], view["officer_kind"], view["rule"]) == (
        "sup-wujiaochang", "supervisor", "fallback_window_supervisor")


@pytest.mark.both_backends
def test_rule_3_hotline_to_a_specialist_of_the_department(routing):
    r = routing
    first, second = r.submit(channel="hotline_12345"), r.submit(channel="hotline_12345")
    views = [_assignment(r, d) for d in (first, second)]
    assert [(v["officer_id"], v["department"], v["rule"]) for v in views] == [
        ("spec-tax-1", "tax", "hotline_department_specialist"), ("spec-tax-2", "tax", "hotline_department_specialist")]
    [event] = r.events("yangpu.demand.assigned.v1", second)
    assert (event["department"], event["officer_kind"]) == ("tax", "department_specialist")


def test_rule_4_commissioners_least_loaded_then_round_robin(routing):
    ids = [routing.submit() for _ in range(4)]
    holders = [_assignment(routing, d)["officer_id"] for d in ids]
    assert holders == [OFFICER_1, OFFICER_2, OFFICER_1, OFFICER_2]
    assert {_assignment(routing, d)["rule"] for d in ids} == {"street_commissioner"}
    # both at capacity 2 now: the next one waits, and only com-1 has the skill "financing"
    assert _assignment(routing, routing.submit())["rule"] == "unassigned"


def test_rule_4_skill_decides_who_can_take_it(routing):
    routing.submit()  # com-1 now has one, com-2 none
    demand_id = routing.submit(category="financing")  # only com-1 has the skill: load does not matter
    assert _assignment(routing, demand_id)["officer_id"] == OFFICER_1


def _unassigned_count(street: str, channel: str, category: str) -> float:
    return REGISTRY.get_sample_value("yangpu_routing_unassigned_total",
                                     {"street": street, "channel": channel, "category": category}) or 0.0


def test_rule_5_nobody_eligible_to_the_streets_unassigned_queue(routing):
    before = _unassigned_count("changbai", "grid", "taxation")
    demand_id = routing.submit(street="changbai")
    view = _assignment(routing, demand_id, routing.supervisor_auth("changbai"))
    assert (view["state"], view["officer_id"], view["rule"]) == ("unassigned", None, "unassigned")
    [event] = routing.events("yangpu.demand.assigned.v1", demand_id)
    assert (event["officer_id"], event["queue"]) == (None, "street_unassigned")
    assert _unassigned_count("changbai", "grid", "taxation") == before + 1
    queue = routing.client.get("/api/v1/streets/changbai/queue?kind=unassigned",
                               headers=routing.supervisor_auth("changbai")).get_json()
    assert [i["demand_id"] for i in queue["items"]] == [demand_id] and queue["total"] == 1
    # ... visible to its supervisor only
    other = routing.client.get("/api/v1/streets/changbai/queue", headers=routing.supervisor_auth("wujiaochang"))
    assert other.status_code == 403


@pytest.mark.both_backends
def test_redelivery_changes_nothing(routing):
    r = routing
    data = submitted()
    event = r.publish("yangpu.demand.submitted.v1", data)
    r.republish(event)  # the very same event again
    r.publish("yangpu.demand.submitted.v1", data)  # the same demand as another event (a replayed producer)
    r.pump()
    assert len(r.events("yangpu.demand.assigned.v1", data["demand_id"])) == 1
    assert r.officer(OFFICER_1).open_count + r.officer(OFFICER_2).open_count == 1


def test_unassigned_demand_is_taken_when_an_officer_comes_on_duty(routing):
    admin = routing.auth("admin", "admin-1")
    for officer_id in (OFFICER_1, OFFICER_2):
        assert routing.client.post(f"/api/v1/officers/{officer_id}/off-duty", headers=admin).status_code == 200
    demand_id = routing.submit()
    assert routing.assignment(demand_id).state == "unassigned"
    assert routing.client.post(f"/api/v1/officers/{OFFICER_2}/on-duty", headers=admin).status_code == 200
    routing.pump()  # the worker's timer offers the queue again
    a = routing.assignment(demand_id)
    assert (a.state, a.officer_id, a.rule) == ("assigned", OFFICER_2, "street_commissioner")
    events = routing.events("yangpu.demand.assigned.v1", demand_id)
    assert [e["queue"] for e in events] == ["street_unassigned", "officer"]


def test_unassigned_demand_is_taken_when_capacity_is_freed(routing, monkeypatch):
    monkeypatch.setattr(routing.retry, "interval_s", 3600.0)  # only the release may refill
    monkeypatch.setattr(routing.retry, "_next", float("inf"))
    held = [routing.submit() for _ in range(4)]
    waiting = routing.submit()
    assert routing.assignment(waiting).state == "unassigned"
    first = held[0]  # com-1's
    resp = routing.act(first, "resolve", {"outcome": "resolved", "note": "已办结"})
    assert resp.status_code == 200, resp.get_json()
    routing.pump()  # routing's worker handles its own resolved event: com-1 has room again
    a = routing.assignment(waiting)
    assert (a.state, a.officer_id) == ("assigned", OFFICER_1)
    assert routing.officer(OFFICER_1).open_count == 2
