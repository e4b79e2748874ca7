"""The officers' queues from routing's projection of sla.events, and the automatic escalation on breach."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.routing.conftest import OFFICER_1, clock, submitted

SOON, LATER, MUCH_LATER = (datetime.now(UTC) + timedelta(hours=h) for h in (1, 5, 30))


def _clock(routing, demand_id: str, type_: str = "yangpu.sla.clock_updated.v1", **kwargs) -> None:
    routing.publish(type_, clock(demand_id, **kwargs))


def _queue(routing, headers=None, **params) -> dict:
    resp = routing.client.get("/api/v1/queue", query_string=params, headers=headers or routing.officer_auth())
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_queue_is_most_urgent_first_with_time_left_on_each_clock(routing):
    # the fallback window: all three go to the street supervisor, who has room for many
    late, urgent, untimed = (routing.submit(channel="fallback_window") for _ in range(3))
    _clock(routing, late, kind="first_response", target_at=MUCH_LATER)
    _clock(routing, late, kind="resolution", target_at=LATER + timedelta(days=9))
    _clock(routing, urgent, kind="first_response", target_at=SOON)
    routing.pump()
    queue = _queue(routing, headers=routing.supervisor_auth())
    assert queue["total"] == 3
    ids = [i["demand_id"] for i in queue["items"]]
    assert ids == [urgent, late, untimed]  # no deadline known yet: last
    first = queue["items"][0]
    [fr] = first["clocks"]
    assert fr["kind"] == "first_response" and fr["status"] == "running"
    left = (SOON - datetime.now(UTC)).total_seconds()  # SOON was fixed when the module loaded
    assert left - 60 < fr["seconds_left"] <= left + 1
    assert fr["business_seconds_target"] == 28_800
    assert datetime.fromisoformat(first["next_due"]) == SOON
    assert [c["kind"] for c in queue["items"][1]["clocks"]] == ["first_response", "resolution"]


def test_queue_pages_and_shows_only_the_callers_open_demands(routing):
    mine = [routing.submit(category="financing") for _ in range(2)]  # only com-1 has the skill
    routing.submit(street="changbai")  # unassigned: nobody's queue
    page = _queue(routing, limit=1, offset=1)
    assert page["total"] == 2 and len(page["items"]) == 1
    assert routing.act(mine[0], "resolve", {"outcome": "explained", "note": "已解释政策"}).status_code == 200
    assert [i["demand_id"] for i in _queue(routing)["items"]] == [mine[1]]
    assert _queue(routing, headers=routing.officer_auth("com-wujiaochang-2"))["total"] == 0


def test_queue_refuses_bad_paging_and_other_roles(routing):
    bad = routing.client.get("/api/v1/queue?limit=0", headers=routing.officer_auth())
    assert bad.status_code == 422 and "limit" in bad.get_json()["errors"]
    assert routing.client.get("/api/v1/queue", headers=routing.auth("admin", "a")).status_code == 403
    assert routing.client.get("/api/v1/queue").status_code == 401


def test_acknowledging_moves_the_demand_to_its_resolution_deadline(routing):
    demand_id = routing.submit()
    _clock(routing, demand_id, kind="first_response", target_at=SOON)
    _clock(routing, demand_id, kind="resolution", target_at=MUCH_LATER)
    routing.pump()
    assert routing.assignment(demand_id).next_due == SOON
    routing.act(demand_id, "acknowledge")
    assert routing.assignment(demand_id).next_due == MUCH_LATER
    routing.act(demand_id, "request-materials", {"note": "营业执照"})
    _clock(routing, demand_id, kind="resolution", status="paused", target_at=None)
    routing.pump()
    a = routing.assignment(demand_id)
    assert a.next_due is None and a.sla["resolution"]["status"] == "paused"


def test_clock_events_before_the_demand_are_adopted(routing):
    data = submitted()
    _clock(routing, data["demand_id"], kind="first_response", target_at=SOON)
    routing.pump()
    assert routing.assignment(data["demand_id"]) is None
    routing.publish("yangpu.demand.submitted.v1", data)
    routing.pump()
    a = routing.assignment(data["demand_id"])
    assert a.first_response_due == SOON and a.next_due == SOON


def test_an_older_clock_event_does_not_overwrite_a_newer_one(routing):
    demand_id = routing.submit()
    now = datetime.now(UTC)
    _clock(routing, demand_id, kind="resolution", target_at=LATER, at=now)
    _clock(routing, demand_id, kind="resolution", target_at=SOON, at=now - timedelta(seconds=5))
    routing.pump()
    assert routing.assignment(demand_id).resolution_due == LATER


def test_resolution_breach_escalates_to_the_supervisor_once(routing):
    demand_id = routing.submit()
    past = datetime.now(UTC) - timedelta(minutes=1)
    _clock(routing, demand_id, "yangpu.sla.warning.v1", kind="resolution", target_at=past)
    _clock(routing, demand_id, "yangpu.sla.breached.v1", kind="first_response", status="breached", target_at=past)
    routing.pump()
    assert routing.events("yangpu.demand.escalated.v1", demand_id) == []  # only the resolution clock escalates
    for _ in range(2):
        _clock(routing, demand_id, "yangpu.sla.breached.v1", kind="resolution", status="breached", target_at=past)
    routing.pump()
    [event] = routing.events("yangpu.demand.escalated.v1", demand_id)
    assert (event["automatic"], event["to_officer_id"], event["actor_id"]) == (True, "sup-wujiaochang", "routing")
    a = routing.assignment(demand_id)
    assert (a.escalated, a.auto_escalated, a.officer_id) == (True, True, OFFICER_1)
    escalated = routing.client.get("/api/v1/streets/wujiaochang/queue?kind=escalated",
                                   headers=routing.supervisor_auth()).get_json()
    assert [i["demand_id"] for i in escalated["items"]] == [demand_id]
    assert escalated["items"][0]["clocks"][1]["seconds_left"] < 0


def test_no_automatic_escalation_once_resolved(routing):
    demand_id = routing.submit()
    routing.act(demand_id, "resolve", {"outcome": "resolved", "note": "已办结"})
    _clock(routing, demand_id, "yangpu.sla.breached.v1", kind="resolution", status="breached",
           target_at=datetime.now(UTC))
    routing.pump()
    assert routing.events("yangpu.demand.escalated.v1", demand_id) == []


def test_street_queue_checks_kind_street_and_role(routing):
    sup = routing.supervisor_auth()
    assert routing.client.get("/api/v1/streets/wujiaochang/queue?kind=stuck", headers=sup).status_code == 422
    assert routing.client.get("/api/v1/streets/atlantis/queue", headers=sup).status_code == 404
    assert routing.client.get("/api/v1/streets/wujiaochang/queue", headers=routing.officer_auth()).status_code == 403
    admin = routing.client.get("/api/v1/streets/changbai/queue", headers=routing.auth("admin", "a"))
    assert admin.status_code == 200 and admin.get_json() == {"total": 0, "items": []}
