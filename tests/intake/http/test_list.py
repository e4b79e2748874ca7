"""GET /api/v1/demands: filters, keyset pagination newest first, and each role's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import demand_body, enterprise

URL = "/api/v1/demands"
HOTLINE = ("hotline_agent", "hotline-01", None)


@pytest.fixture
def demands(intake):
    """Nine demands across streets, channels, categories and report times; ids newest first."""
    now = datetime.now(UTC)
    specs = [
        ("wujiaochang", "grid", "taxation", 1), ("wujiaochang", "grid", "employment", 2),
        ("wujiaochang", "hotline_12345", "taxation", 3), ("dinghai", "grid", "financing", 4),
        ("dinghai", "online_helpdesk", "taxation", 5), ("yinhang", "walk_in", "other", 6),
        ("wujiaochang", "fallback_window", "financing", 7), ("dinghai", "hotline_12345", "employment", 8),
        ("yinhang", "grid", "taxation", 9),
    ]
    who = {"grid": lambda s: ("grid_worker", f"grid-{s}-01", s), "hotline_12345": lambda s: HOTLINE,
           "online_helpdesk": lambda s: ("helpdesk_agent", "helpdesk-01", None),
           "walk_in": lambda s: ("supervisor", f"sup-{s}", s),
           "fallback_window": lambda s: ("supervisor", f"sup-{s}", s)}
    ids = []
    for street, channel, category, days_ago in specs:
        body = demand_body(street=street, channel=channel, category=category,
                           reported_at=(now - timedelta(days=days_ago)).isoformat())
        resp = intake.client.post(URL, json=body, headers=intake.auth(*who[channel](street)))
        assert resp.status_code == 201, resp.get_json()
        ids.append((resp.get_json()["id"], street, channel, category, days_ago))
    return list(reversed(ids))


def _list(intake, caller=HOTLINE, **params):
    resp = intake.client.get(URL, query_string=params, headers=intake.auth(*caller))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def test_newest_first_and_every_page_once(intake, demands):
    seen, cursor, pages = [], None, 0
    while True:
        page = _list(intake, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [d["id"] for d in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [d[0] for d in demands]
    assert pages == 5
    received = [datetime.fromisoformat(d["received_at"]) for d in _list(intake, limit=100)["items"]]
    assert received == sorted(received, reverse=True)


def test_a_demand_logged_while_paging_does_not_shift_the_pages(intake, demands):
    first = _list(intake, limit=3)
    intake.client.post(URL, json=demand_body(channel="hotline_12345"), headers=intake.auth(*HOTLINE))
    second = _list(intake, limit=3, cursor=first["next_cursor"])
    assert [d["id"] for d in second["items"]] == [d[0] for d in demands[3:6]]


@pytest.mark.parametrize(("name", "value", "column"), [
    ("street", "dinghai", 1), ("channel", "grid", 2), ("category", "taxation", 3)])
def test_code_filters(intake, demands, name, value, column):
    ids = [d["id"] for d in _list(intake, **{name: value})["items"]]
    assert ids == [d[0] for d in demands if d[column] == value]


def test_filters_combine(intake, demands):
    ids = [d["id"] for d in _list(intake, street="wujiaochang", category="taxation")["items"]]
    assert ids == [d[0] for d in demands if d[1] == "wujiaochang" and d[3] == "taxation"]


def test_status_filter(intake, demands):
    target = demands[0][0]
    intake.publish("yangpu.demand.acknowledged.v1", {"demand_id": target, "street": "yinhang", "actor_id": "x"})
    intake.until(lambda: _list(intake, status="in_progress")["items"])
    assert [d["id"] for d in _list(intake, status="in_progress")["items"]] == [target]
    assert target not in [d["id"] for d in _list(intake, status="submitted")["items"]]


def test_uscc_filter(intake, demands):
    uscc = enterprise("dinghai")["uscc"]
    ids = [d["id"] for d in _list(intake, uscc=uscc.lower())["items"]]
    assert ids == [d[0] for d in demands if d[1] == "dinghai"]


def test_reported_at_range(intake, demands):
    now = datetime.now(UTC)
    ids = [d["id"] for d in _list(intake, reported_from=(now - timedelta(days=5, hours=12)).isoformat(),
                                  reported_to=(now - timedelta(days=2, hours=12)).isoformat())["items"]]
    assert ids == [d[0] for d in demands if 3 <= d[4] <= 5]


@pytest.mark.parametrize("params", [
    {"street": "pudong"}, {"channel": "fax"}, {"category": "x"}, {"status": "lost"}, {"uscc": "123"},
    {"reported_from": "last week"}, {"reported_to": "2025-01-01T00:00:00"}, {"limit": 0}, {"limit": 101},
    {"cursor": "not-a-cursor"}, {"cursor": "WyJ4IiwgMV0"},
])
def test_invalid_filters_are_a_422(intake, params):
    resp = intake.client.get(URL, query_string=params, headers=intake.auth(*HOTLINE))
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]) == [next(iter(params))]


def test_a_grid_worker_lists_their_street_only(intake, demands):
    grid = ("grid_worker", "grid-dinghai-02", "dinghai")
    assert [d["id"] for d in _list(intake, grid)["items"]] == [d[0] for d in demands if d[1] == "dinghai"]
    assert [d["id"] for d in _list(intake, grid, street="dinghai")["items"]] == [
        d[0] for d in demands if d[1] == "dinghai"]
    resp = intake.client.get(URL, query_string={"street": "wujiaochang"}, headers=intake.auth(*grid))
    assert resp.status_code == 403


def test_a_supervisor_lists_their_street_only(intake, demands):
    sup = ("supervisor", "sup-yinhang", "yinhang")
    assert [d["id"] for d in _list(intake, sup)["items"]] == [d[0] for d in demands if d[1] == "yinhang"]
    assert intake.client.get(URL, query_string={"street": "dinghai"}, headers=intake.auth(*sup)).status_code == 403


def test_an_officer_lists_their_street_and_what_is_assigned_to_them(intake, demands):
    elsewhere = next(d[0] for d in demands if d[1] == "yinhang")
    intake.publish("yangpu.demand.assigned.v1", {
        "demand_id": elsewhere, "street": "yinhang", "actor_id": "routing", "officer_id": "com-dinghai-1",
        "officer_kind": "street_commissioner", "department": None, "rule": "manual", "queue": "officer"})
    officer = ("officer", "com-dinghai-1", "dinghai")
    expected = [d[0] for d in demands if d[1] == "dinghai" or d[0] == elsewhere]
    listed = intake.until(lambda: (ids := [d["id"] for d in _list(intake, officer)["items"]]) == expected and ids)
    assert listed == expected
    assert _list(intake, ("officer", "spec-tax-1", None))["items"] == []


def test_agents_and_admins_list_the_whole_district(intake, demands):
    for caller in (HOTLINE, ("helpdesk_agent", "helpdesk-01", None), ("admin", "admin-01", None)):
        assert len(_list(intake, caller, limit=100)["items"]) == len(demands)


def test_listing_needs_a_token(intake):
    assert intake.client.get(URL).status_code == 401
