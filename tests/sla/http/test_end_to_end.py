"""The whole suite on both backends: a demand logged at intake, acted on in routing, timed by sla.

China's calendar and the shipped policy, in real time: an acknowledgement a moment after the report can
only meet the first-response promise (outside service hours the clock has not even started).
"""

from __future__ import annotations

import pytest

from tests.helpers import demand_body

WJC = "wujiaochang"


@pytest.mark.both_backends
def test_officer_actions_stop_the_clocks_and_feed_the_summary(suite):
    helpdesk = suite.auth("helpdesk_agent", "helpdesk-01")
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(channel="online_helpdesk"),
                                        headers=helpdesk)
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    supervisor = suite.auth("supervisor", f"sup-{WJC}", WJC)

    def clocks(status: str | None = None):
        r = suite.clients["sla"].get(f"/api/v1/sla/demands/{demand_id}", headers=supervisor)
        if r.status_code != 200:
            return None
        found = {c["kind"]: c for c in r.get_json()["clocks"]}
        return found if status is None or found["first_response"]["status"] == status else None

    opened = suite.until(clocks)
    assert opened["first_response"]["business_seconds_target"] == 60  # the one-minute promise online
    suite.until(lambda: suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment",
                                                     headers=supervisor).status_code == 200)

    routing = suite.clients["routing"]
    assert routing.post(f"/api/v1/demands/{demand_id}/acknowledge", json={}, headers=supervisor).status_code == 200
    acknowledged = suite.until(lambda: clocks("met"))
    assert acknowledged["resolution"]["status"] == "running"

    resolved = routing.post(f"/api/v1/demands/{demand_id}/resolve", json={"outcome": "resolved", "note": "已解决"},
                            headers=supervisor)
    assert resolved.status_code == 200, resolved.get_json()

    def summary():
        body = suite.clients["sla"].get("/api/v1/sla/summary", headers=supervisor).get_json()
        return body if body["resolution_rate"]["denominator"] == 1 else None

    body = suite.until(summary)
    assert body["first_response_compliance"]["numerator"] == body["first_response_compliance"]["denominator"] == 1
    assert body["on_time_resolution_rate"]["rate"] == 1.0
    assert body["resolution_rate"]["rate"] == 1.0 and body["resolution_rate"]["meets_target"] is True
