"""With the real routing and sla services, on both backends: what the reporter sees follows the demand."""

from __future__ import annotations

import pytest

from tests.helpers import demand_body

pytestmark = pytest.mark.both_backends


def test_the_reporter_sees_routing_assign_the_demand(suite):
    hotline = suite.auth("hotline_agent", "hotline-01")
    body = demand_body(street="dinghai", channel="hotline_12345", key=True)
    resp = suite.clients["intake"].post("/api/v1/demands", json=body, headers={**hotline, "Idempotency-Key": "c-1"})
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    supervisor = suite.auth("supervisor", "sup-dinghai", "dinghai")

    def assignment():
        r = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=supervisor)
        return r.get_json() if r.status_code == 200 and r.get_json().get("officer_id") else None

    assigned = suite.until(assignment)

    def reporter_view():
        view = suite.clients["intake"].get(f"/api/v1/demands/{demand_id}", headers=hotline).get_json()
        return view if view["status"] == "assigned" else None

    view = suite.until(reporter_view)
    assert view["assignee_id"] == assigned["officer_id"]
    assert view["enterprise"]["key_enterprise"] is True
    assert [t["kind"] for t in view["timeline"]][:2] == ["submitted", "assigned"]
    assert view["enterprise"]["contact_phone"] == "138****5678"

    # a retry after all this is still the same demand, and nothing new travels
    again = suite.clients["intake"].post("/api/v1/demands", json=body, headers={**hotline, "Idempotency-Key": "c-1"})
    assert again.get_json()["id"] == demand_id and again.get_json()["status"] == "assigned"
