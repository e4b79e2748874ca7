"""An officer's leave for a date range (issue 15 item 6): routing treats them as off duty on those days, the
admin API sets and cancels it (422 naming the field), and the change is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from routing_service.domain.policy import shanghai_today
from shared import audit
from tests.routing.conftest import OFFICER_1


def _today():
    return shanghai_today(datetime.now(UTC))


def _leave(routing, start, end, officer=OFFICER_1):
    return routing.client.put(f"/api/v1/officers/{officer}/leave", json={"from": str(start), "until": str(end)},
                              headers=routing.auth("admin", "admin-1"))


@pytest.mark.both_backends
def test_an_officer_on_leave_today_is_given_nothing_and_is_again_once_it_ended(routing):
    today = _today()
    resp = _leave(routing, today, today + timedelta(days=2))
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert (body["leave_from"], body["leave_until"], body["on_leave"], body["on_duty"]) == (
        str(today), str(today + timedelta(days=2)), True, True)
    waiting = routing.submit(category="financing")  # only OFFICER_1 has the skill
    assert routing.assignment(waiting).state == "unassigned"
    ended = _leave(routing, today - timedelta(days=5), today - timedelta(days=1)).get_json()  # ended yesterday
    assert ended["on_leave"] is False
    routing.pump()  # the retry timer offers the queue again
    assert routing.assignment(waiting).officer_id == OFFICER_1


@pytest.mark.both_backends
def test_planned_leave_does_not_stop_routing_and_cancelling_clears_it(routing):
    admin = routing.auth("admin", "admin-1")
    today = _today()
    assert _leave(routing, today + timedelta(days=1), today + timedelta(days=3)).get_json()["on_leave"] is False
    assert routing.assignment(routing.submit(category="financing")).officer_id == OFFICER_1
    _leave(routing, today - timedelta(days=1), today)  # the last day is today: still on leave
    assert routing.assignment(routing.submit(category="financing")).state == "unassigned"
    cancelled = routing.client.delete(f"/api/v1/officers/{OFFICER_1}/leave", headers=admin)
    assert cancelled.status_code == 200
    assert (cancelled.get_json()["leave_from"], cancelled.get_json()["on_leave"]) == (None, False)
    assert routing.officer(OFFICER_1).leave_until is None


def test_a_transfer_to_an_officer_on_leave_is_a_conflict(routing):
    today = _today()
    demand = routing.submit()
    holder = routing.assignment(demand).officer_id
    other = "com-wujiaochang-2" if holder == OFFICER_1 else OFFICER_1
    _leave(routing, today, today, officer=other)
    refused = routing.act(demand, "transfer", {"to_officer": other, "reason": "熟悉该企业"},
                          headers=routing.auth("officer", holder))
    assert refused.status_code == 409, refused.get_json()
    assert routing.assignment(demand).officer_id == holder


@pytest.mark.parametrize("body, field", [
    ({"from": "2026-12-05", "until": "2026-12-01"}, "until"),
    ({"from": "2026-01-01", "until": "2027-01-03"}, "until"),  # 367 days later
    ({"from": "2026-13-01", "until": "2026-12-05"}, "from"),
    ({"from": "1900-01-01", "until": "1900-01-02"}, "from"),  # outside the calendar
    ({"until": "2026-12-05"}, "from"),
    ({"from": "2026-12-01", "until": "tomorrow"}, "until"),
])
def test_bad_leave_is_422_naming_the_field_and_changes_nothing(routing, body, field):
    resp = routing.client.put(f"/api/v1/officers/{OFFICER_1}/leave", json=body,
                              headers=routing.auth("admin", "admin-1"))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"], resp.get_json()
    assert routing.officer(OFFICER_1).leave_from is None


def test_leave_is_for_admins_and_known_officers(routing):
    body = {"from": "2026-12-01", "until": "2026-12-05"}
    assert routing.client.put(f"/api/v1/officers/{OFFICER_1}/leave", json=body,
                              headers=routing.auth("supervisor", "sup-wujiaochang", "wujiaochang")).status_code == 403
    assert routing.client.put("/api/v1/officers/nobody/leave", json=body,
                              headers=routing.auth("admin", "a")).status_code == 404
    assert routing.client.put(f"/api/v1/officers/{OFFICER_1}/leave", json={**body, "until": "2027-12-03"},
                              headers=routing.auth("admin", "a")).status_code == 422  # from + 367 days


def test_a_year_of_leave_is_the_longest(routing):
    assert _leave(routing, "2026-01-01", "2027-01-02").status_code == 200  # from + 366 days


def test_leave_is_audited_with_before_and_after(routing):
    _leave(routing, "2026-12-01", "2026-12-05")
    routing.client.delete(f"/api/v1/officers/{OFFICER_1}/leave", headers=routing.auth("admin", "admin-1"))
    engine = routing.client.application.extensions["yangpu_accounts"].engine
    cancelled, saved = audit.latest(engine, 10, target=OFFICER_1)[:2]
    assert (saved.action, saved.actor, saved.before, saved.after) == (
        "officer.leave", "admin-1", {"leave_from": None, "leave_until": None},
        {"leave_from": "2026-12-01", "leave_until": "2026-12-05"})
    assert (cancelled.action, cancelled.after) == ("officer.leave", {"leave_from": None, "leave_until": None})


def test_reloading_the_yaml_roster_keeps_the_leave(routing):
    from routing_service.reference import load_roster
    from tests.routing.conftest import ROSTER

    _leave(routing, "2026-12-01", "2026-12-05")
    with routing.session() as s:
        load_roster(s, ROSTER)
    officer = routing.officer(OFFICER_1)
    assert (str(officer.leave_from), str(officer.leave_until), officer.edited_at) == ("2026-12-01", "2026-12-05", None)
