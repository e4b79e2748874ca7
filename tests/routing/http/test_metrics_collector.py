"""The unassigned-queue gauge is read from the database at scrape time, every street included."""

from __future__ import annotations

import re

from tests.helpers import demand_body


def _gauge(text: str, street: str) -> float:
    match = re.search(rf'^yangpu_routing_unassigned_demands{{street="{street}"}} (\S+)$', text, re.M)
    assert match, f"no sample for {street}"
    return float(match.group(1))


def test_unassigned_gauge_counts_the_street_queue(suite):
    admin = suite.auth("admin", "admin-01")
    routing = suite.clients["routing"]
    for officer in ("com-daqiao-1", "com-daqiao-2"):
        assert routing.post(f"/api/v1/officers/{officer}/off-duty", headers=admin).status_code in (200, 204)
    before = routing.get("/metrics").get_data(as_text=True)
    assert _gauge(before, "daqiao") == 0
    assert _gauge(before, "changhai") == 0
    grid = suite.auth("grid_worker", "grid-dq-01", "daqiao")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(street="daqiao"), headers=grid)
    assert resp.status_code == 201
    suite.pump()
    after = routing.get("/metrics").get_data(as_text=True)
    assert _gauge(after, "daqiao") == 1
    assert _gauge(after, "changhai") == 0
