"""Routing inside the whole suite, on both backends: intake's demand is routed by the demo roster, sla's
clocks reach the officer's queue, and the officer's action goes out on the bus."""

from __future__ import annotations

import pytest

from tests.helpers import demand_body


@pytest.mark.both_backends
def test_officer_gets_the_demand_with_its_clocks_and_acts_on_it(suite):
    grid = suite.auth("grid_worker", "grid-wjc-01", "wujiaochang")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(category="taxation"), headers=grid)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    officer = suite.auth("officer", "com-wujiaochang-1")  # on shift around the clock, every skill

    def queued_with_clocks():
        items = suite.clients["routing"].get("/api/v1/queue", headers=officer).get_json()["items"]
        mine = [i for i in items if i["demand_id"] == demand_id]
        return mine[0] if mine and len(mine[0]["clocks"]) == 2 else None

    item = suite.until(queued_with_clocks)
    assert {c["kind"] for c in item["clocks"]} == {"first_response", "resolution"}
    assert item["next_due"] is not None and all(c["seconds_left"] > 0 for c in item["clocks"])

    acked = suite.clients["routing"].post(f"/api/v1/demands/{demand_id}/acknowledge", json={}, headers=officer)
    assert acked.status_code == 200, acked.get_json()
    assert acked.get_json()["state"] == "acknowledged"
    suite.pump()
    supervisor = suite.auth("supervisor", "sup-wujiaochang", "wujiaochang")
    view = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=supervisor).get_json()
    assert (view["officer_id"], view["rule"], view["state"]) == (
        "com-wujiaochang-1", "street_commissioner", "acknowledged")


@pytest.mark.both_backends
def test_hotline_work_order_goes_to_the_departments_specialist(suite):
    agent = suite.auth("hotline_agent", "agent-01")
    body = demand_body(channel="hotline_12345", category="bankruptcy")
    resp = suite.clients["intake"].post("/api/v1/demands", json=body, headers=agent)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    admin = suite.auth("admin", "admin-01")

    def assignment():
        r = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=admin)
        return r.get_json() if r.status_code == 200 else None

    view = suite.until(assignment)
    assert (view["officer_id"], view["department"], view["rule"]) == (
        "spec-court_liaison", "court_liaison", "hotline_department_specialist")
