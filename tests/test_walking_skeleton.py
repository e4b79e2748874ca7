"""The walking skeleton, on both backends: a demand POSTed to intake is assigned by routing and timed by sla."""

from __future__ import annotations

import pytest

from tests.helpers import demand_body

pytestmark = pytest.mark.both_backends


def test_demand_flows_from_intake_to_routing_and_sla(suite):
    grid = suite.auth("grid_worker", "grid-wjc-01", "wujiaochang")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(), headers=grid)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    assert resp.headers["Location"].endswith(f"/api/v1/demands/{demand_id}")

    supervisor = suite.auth("supervisor", "sup-wujiaochang", "wujiaochang")

    def assignment():
        r = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=supervisor)
        return r.get_json() if r.status_code == 200 else None

    assigned = suite.until(assignment)
    assert assigned["officer_id"] is not None
    assert assigned["officer_kind"] == "street_commissioner"

    def clocks():
        r = suite.clients["sla"].get(f"/api/v1/sla/demands/{demand_id}", headers=supervisor)
        return r.get_json() if r.status_code == 200 else None

    timed = suite.until(clocks)
    kinds = {c["kind"]: c for c in timed["clocks"]}
    assert set(kinds) == {"first_response", "resolution"}
    assert all(c["status"] == "running" for c in kinds.values())

    def reporter_sees_assignment():
        r = suite.clients["intake"].get(f"/api/v1/demands/{demand_id}", headers=grid).get_json()
        return r if r["assignee_id"] else None

    view = suite.until(reporter_sees_assignment)
    assert view["assignee_id"] == assigned["officer_id"]
    assert [t["kind"] for t in view["timeline"]][-1] == "assigned"
