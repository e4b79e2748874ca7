"""The officer's lists (GET /api/v1/queue: tabs, search, filters), the enterprise's name routing now keeps, the
clocks a page shows right after an action, and the materials request's required note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from routing_service import queries
from tests.routing.conftest import OFFICER_1, OFFICER_2, clock, submitted

RESOLVE = {"outcome": "resolved", "note": "已协调税务专员上门处理"}
VOICE = ("hotline_agent", "hotline-01")  # who records the enterprise's feedback


def _file(routing, name: str = "上海定澜智能装备有限公司", uscc: str = "91310110MA4PFF8Q3P",
          title: str = "开具发票遇到困难", category: str = "financing", **kwargs) -> str:
    """A demand for com-wujiaochang-1 (the only one with the financing skill; capacity 2)."""
    data = submitted(category=category, **kwargs)
    data["enterprise"] |= {"name": name, "uscc": uscc}
    data["title"] = title
    routing.publish("yangpu.demand.submitted.v1", data)
    routing.pump()
    return data["demand_id"]


def _list(routing, subject: str = OFFICER_1, expect: int = 200, **params) -> dict:
    resp = routing.client.get("/api/v1/queue", query_string=params, headers=routing.officer_auth(subject))
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()


def _ids(page: dict) -> list[str]:
    return [i["demand_id"] for i in page["items"]]


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_a_resolved_demand_waits_for_feedback_then_the_close_moves_it_to_closed(routing):
    demand_id = _file(routing)
    assert routing.assignment(demand_id).enterprise_name == "上海定澜智能装备有限公司"
    _ok(routing.act(demand_id, "acknowledge"))
    [item] = _list(routing)["items"]
    assert item["enterprise_name"] == "上海定澜智能装备有限公司" and item["enterprise_uscc"] == "91310110MA4PFF8Q3P"
    _ok(routing.act(demand_id, "resolve", RESOLVE))
    assert _list(routing)["total"] == 0
    [waiting] = _list(routing, tab="resolved")["items"]
    assert (waiting["demand_id"], waiting["state"], waiting["outcome"]) == (demand_id, "resolved", "resolved")
    _ok(routing.act(demand_id, "feedback", {"satisfaction": "satisfied"}, headers=routing.auth(*VOICE)))
    [rated] = _list(routing, tab="resolved")["items"]
    assert (rated["state"], rated["satisfaction"]) == ("feedback_received", "satisfied")
    assert _list(routing, tab="closed")["total"] == 0
    _ok(routing.act(demand_id, "close"))
    assert _list(routing, tab="resolved")["total"] == 0
    assert _ids(_list(routing, tab="closed")) == [demand_id]


def test_closed_is_most_recent_first(routing):
    first, second = _file(routing), _file(routing)
    for demand_id in (second, first):  # second closed first
        _ok(routing.act(demand_id, "resolve", RESOLVE))
        _ok(routing.act(demand_id, "close"))
    assert _ids(_list(routing, tab="closed")) == [first, second]


def test_search_finds_the_officers_own_demands_by_enterprise_credit_code_or_title(routing):
    theirs = _file(routing)  # the same enterprise, handed to com-2
    _ok(routing.act(theirs, "transfer", {"to_officer": OFFICER_2, "reason": "同事熟悉该企业"}))
    dinglan = _file(routing)
    other = _file(routing, name="Yangpu Robotics Co", uscc="91310000MA1FL8WQ0X", title="申请人才公寓")
    assert routing.assignment(theirs).officer_id == OFFICER_2
    assert _ids(_list(routing, q="定澜")) == [dinglan]
    assert _ids(_list(routing, q="robotics")) == [other]  # any case
    assert _ids(_list(routing, q="ma1fl8")) == [other]  # part of the credit code, any case
    assert _ids(_list(routing, q="人才公寓")) == [other]
    assert _list(routing, q="100%_")["total"] == 0  # LIKE's wildcards are text
    assert _ids(_list(routing, OFFICER_2, q="定澜")) == [theirs]


def test_filters_status_channel_and_due_today(routing):
    grid, hotline = _file(routing), _file(routing, channel="hotline_12345")
    now = datetime.now(UTC)
    routing.publish("yangpu.sla.clock_updated.v1", clock(grid, "first_response", target_at=now - timedelta(minutes=1)))
    routing.publish("yangpu.sla.clock_updated.v1", clock(hotline, "resolution", target_at=now + timedelta(hours=40)))
    routing.pump()
    _ok(routing.act(hotline, "acknowledge"))
    assert _ids(_list(routing, status="acknowledged")) == [hotline]
    assert _ids(_list(routing, channel="hotline_12345")) == [hotline]
    assert _ids(_list(routing, due_today="true")) == [grid]  # overdue counts; 40 h ahead does not
    assert _list(routing, status="resolved")["total"] == 0  # not among the open ones


@pytest.mark.parametrize("params", [{"tab": "all"}, {"q": "x" * 101}, {"status": "lost"}, {"channel": "fax"},
                                    {"q": "a\u202eb"}])
def test_bad_list_arguments_are_refused_by_field(routing, params):
    errors = _list(routing, expect=422, **params)["errors"]
    assert set(errors) == set(params)


def test_the_materials_request_needs_a_note(routing):
    demand_id = _file(routing)
    _ok(routing.act(demand_id, "acknowledge"))
    for body in ({}, {"note": "   "}):
        resp = routing.act(demand_id, "request-materials", body)
        assert resp.status_code == 422 and "note" in resp.get_json()["errors"]
    assert routing.assignment(demand_id).state == "acknowledged"
    _ok(routing.act(demand_id, "request-materials", {"note": "营业执照复印件"}))
    [note] = [data["note"] for type_, data in routing.outbox() if type_ == "yangpu.demand.materials_requested.v1"]
    assert note == "营业执照复印件"  # what the enterprise's link and intake's timeline show


def test_clocks_as_the_state_already_implies():
    running = {"kind": "first_response", "status": "running", "target_at": "2026-12-07T10:00:00+08:00"}
    resolution = {"kind": "resolution", "status": "running", "target_at": "2026-12-11T10:00:00+08:00"}
    assert [c["status"] for c in queries.settled([running, resolution], "assigned")] == ["running", "running"]
    assert [c["status"] for c in queries.settled([running, resolution], "acknowledged")] == ["met", "running"]
    paused = queries.settled([resolution], "awaiting_materials")[0]
    assert (paused["status"], paused["target_at"]) == ("paused", None)
    assert queries.settled([resolution], "resolved")[0]["status"] == "met"
    breached = {**running, "status": "breached"}
    assert queries.settled([breached], "acknowledged")[0]["status"] == "breached"  # sla's word stands


@pytest.mark.production
def test_the_lists_read_through_their_indexes_on_postgresql(production, monkeypatch):
    from tests.routing.conftest import make_routing

    routing = make_routing(production, monkeypatch)
    try:
        _file(routing)
        now = datetime.now(UTC)
        plans = {}
        with routing.session() as session:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            for tab, q in (("open", None), ("open", "定澜"), ("resolved", None), ("closed", "robot")):
                args = {"tab": tab, "q": q}
                order = queries.URGENCY if tab == "open" else queries.RECENT
                stmt = (select(*queries._QUEUE_COLUMNS).where(queries._officer_where(OFFICER_1, args, now))
                        .order_by(*order).limit(50))
                sql = str(stmt.compile(session.get_bind(), compile_kwargs={"literal_binds": True}))
                plans[(tab, q)] = "\n".join(row[0] for row in session.execute(text("EXPLAIN " + sql)))
        assert "ix_assignments_queue" in plans[("open", None)], plans
        assert "ix_assignments_queue" in plans[("open", "定澜")], plans
        assert "ix_assignments_officer_state" in plans[("resolved", None)], plans
        assert "ix_assignments_officer_state" in plans[("closed", "robot")], plans
    finally:
        routing.close()
