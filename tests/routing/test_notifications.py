"""The officers' notices and the alert bell in routing's pages (issue 18), without a browser.

Notices are a read model over the assignments: a demand given to an officer (``assigned_at``) and a clock of
theirs reaching its warning (``warned_at``, set by the ``sla.warning`` handler), after the officer's read mark.
The bell counts the alerts a supervisor or admin has not read; opening the alerts page reads them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from routing_service import queries
from shared.contracts import events
from shared.webkit.pages import SESSION_COOKIE
from tests.routing.conftest import OFFICER_1, OFFICER_2, Routing, clock
from tests.routing.test_alerts_webhook import alert, deliver, payload
from tests.signin import session_for


def _page_client(routing: Routing, role: str, subject: str, street: str | None = None) -> Any:
    client = routing.client.application.test_client()
    client.set_cookie(SESSION_COOKIE, session_for(routing.client.application, role, subject, street))
    return client


def _csrf(client: Any, path: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).get_data(as_text=True))
    assert found
    return found.group(1)


def _kinds(routing: Routing, officer: str = OFFICER_1) -> list[tuple[str, str, bool]]:
    found = queries.notifications(routing.ctx, officer)
    return [(n.kind, n.demand_id, unread) for n, unread in found["items"]]


@pytest.mark.both_backends
def test_an_assignment_and_a_warning_are_notices_until_read(routing: Routing) -> None:
    demand = routing.submit()
    holder = routing.assignment(demand).officer_id
    other = OFFICER_2 if holder == OFFICER_1 else OFFICER_1
    assert _kinds(routing, holder) == [("assigned", demand, True)]
    assert _kinds(routing, other) == []
    assert queries.notifications(routing.ctx, holder)["unread"] == 1

    warned = datetime.now(UTC)
    routing.publish(events.WARNING, clock(demand, "first_response", used=23_040, at=warned))
    routing.pump()
    a = routing.assignment(demand)
    assert (a.warned_at, a.warned_clock) == (warned, "first_response")
    assert _kinds(routing, holder) == [("warning", demand, True), ("assigned", demand, True)]

    client = _page_client(routing, "officer", holder)
    fragment = client.get("/officer/notifications?lang=en").get_data(as_text=True)
    assert "First response deadline is near" in fragment and "Assigned to you" in fragment
    assert "上海定澜智能装备有限公司" in fragment and fragment.count("data-notice=") == 2
    through = re.search(r'name="through" value="([^"]+)"', fragment)
    assert through
    read = client.post("/officer/notifications/read", data={"csrf_token": _csrf(client, "/officer"),
                                                            "through": through.group(1)})
    assert read.status_code == 302
    assert _kinds(routing, holder) == [("warning", demand, False), ("assigned", demand, False)]
    assert "data-notice=" not in client.get("/officer/notifications").get_data(as_text=True)
    # A clock_updated (not a warning) changes nothing; a second warning (the resolution clock) is news.
    routing.publish(events.CLOCK_UPDATED, clock(demand, "first_response", status="paused"))
    routing.pump()
    assert queries.notifications(routing.ctx, holder)["unread"] == 0
    routing.publish(events.WARNING, clock(demand, "resolution", used=1000, at=warned + timedelta(seconds=2)))
    routing.pump()
    assert _kinds(routing, holder)[0] == ("warning", demand, True)


def test_a_warning_before_the_demand_changed_hands_is_not_news_to_the_new_holder(routing: Routing) -> None:
    demand = routing.submit()
    routing.publish(events.WARNING, clock(demand, "first_response", used=23_040,
                                          at=datetime.now(UTC) - timedelta(minutes=5)))
    routing.pump()
    holder = routing.assignment(demand).officer_id
    assert [k for k, _d, _u in _kinds(routing, holder)] == ["assigned"]  # warned before it was assigned


def test_the_queue_page_shows_notices_and_asks_for_browser_notifications_only_on_a_button(routing: Routing) -> None:
    demand = routing.submit()
    holder = routing.assignment(demand).officer_id
    page = _page_client(routing, "officer", holder).get("/officer?lang=en").get_data(as_text=True)
    assert 'data-poll-url="/officer/notifications"' in page and 'data-poll-seconds="2"' in page
    assert 'id="notify-ask" hidden' in page and "notify.js" in page
    assert f'data-notice="assigned:{demand}:' in page and "New notices: 1" in page


def test_the_bell_counts_unread_alerts_and_the_alerts_page_reads_them(routing: Routing) -> None:
    supervisor = _page_client(routing, "supervisor", "sup-wujiaochang", "wujiaochang")
    page = supervisor.get("/supervisor?lang=en").get_data(as_text=True)
    assert 'data-poll-url="/alerts/bell"' in page and 'data-unread="0"' in page
    deliver(routing, payload(alert("0000000000000001", "wujiaochang"), alert("0000000000000002", "yinhang")))
    assert 'data-unread="1"' in supervisor.get("/alerts/bell").get_data(as_text=True)

    alerts = supervisor.get("/alerts?lang=en").get_data(as_text=True)
    assert "A key enterprise's demand missed its promise" in alerts and "Wujiaochang" in alerts
    assert "yinhang" not in alerts.lower()  # another street's alert
    assert 'href="http://' in alerts and "/supervisor" in alerts  # the page annotation, linked
    assert 'data-unread="0"' in alerts  # opened: read, the bell is empty
    assert 'data-unread="0"' in supervisor.get("/alerts/bell").get_data(as_text=True)
    chinese = supervisor.get("/alerts?lang=zh_Hans_CN").get_data(as_text=True)
    assert "五角场" in chinese and "告警" in chinese

    admin = _page_client(routing, "admin", "admin-1")
    assert 'data-unread="2"' in admin.get("/alerts/bell").get_data(as_text=True)
    officer = _page_client(routing, "officer", OFFICER_1)
    assert officer.get("/alerts").status_code == 403 and officer.get("/alerts/bell").status_code == 403
    assert 'id="bell"' not in officer.get("/officer").get_data(as_text=True)
    assert json.loads(deliver(routing, payload(alert("0000000000000003", "wujiaochang"))).data) == {"alerts": 1}
    assert 'data-unread="1"' in supervisor.get("/alerts/bell").get_data(as_text=True)


def test_an_older_warning_arriving_late_does_not_move_the_notice_back(routing: Routing) -> None:
    demand = routing.submit()
    now = datetime.now(UTC)
    routing.publish(events.WARNING, clock(demand, "resolution", used=100_000, target=115_200, at=now))
    routing.publish(events.WARNING, clock(demand, "first_response", used=23_040, at=now - timedelta(minutes=1)))
    routing.pump()
    a = routing.assignment(demand)
    assert (a.warned_at, a.warned_clock) == (now, "resolution")


def test_the_api_gives_the_same_notices_and_reads_them(routing: Routing) -> None:
    demand = routing.submit()
    holder = routing.assignment(demand).officer_id
    mine = routing.officer_auth(holder)
    listed = routing.client.get("/api/v1/notifications", headers=mine)
    assert listed.status_code == 200, listed.get_json()
    [notice] = listed.get_json()["items"]
    assert (notice["kind"], notice["demand_id"], notice["unread"], notice["title"]) == (
        "assigned", demand, True, "开具发票遇到困难")
    assert notice["enterprise_name"] == "上海定澜智能装备有限公司" and listed.get_json()["unread"] == 1
    read = routing.client.post("/api/v1/notifications/read", json={"through": notice["at"]}, headers=mine)
    assert read.status_code == 200 and read.get_json() == {"unread": 0}
    assert routing.client.get("/api/v1/notifications", headers=mine).get_json()["items"][0]["unread"] is False
    for role, street in (("admin", None), ("grid_worker", "wujiaochang"), ("alertmanager", None)):
        refused = routing.client.get("/api/v1/notifications", headers=routing.auth(role, f"{role}-1", street))
        assert refused.status_code == 403
    assert routing.client.get("/api/v1/notifications").status_code == 401
    spec = routing.client.get("/openapi.json").get_json()
    for path, method in (("/api/v1/notifications", "get"), ("/api/v1/notifications/read", "post")):
        op = spec["paths"][path][method]
        assert {"200", "401", "403"} <= set(op["responses"]) and op["security"] == [{"bearerAuth": []}]
    assert all("description" in f for f in spec["components"]["schemas"]["NoticeOut"]["properties"].values())
