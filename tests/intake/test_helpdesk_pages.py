"""The help desk's desk in-process (no browser): the first-answer clock in business seconds, the live list,
answering through routing (its refusals as words, never a 500) and logging an online demand.

Routing is not running here: the page's call to it is replaced where a test needs an answer from it.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from intake_service.http import helpdesk_pages as helpdesk
from intake_service.model import Demand
from shared.calendar import SHANGHAI, BusinessCalendar
from shared.config import PROJECT_ROOT
from shared.webkit.pages import SESSION_COOKIE
from shared.webkit.service_client import ServiceUnavailable
from tests.helpers import demand_body, enterprise
from tests.signin import session_for

AGENT = ("helpdesk_agent", "hd-01", None)
CALENDAR = BusinessCalendar(PROJECT_ROOT / "deploy" / "calendar_overrides.yaml")
TUESDAY = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # a working day
LEFT = re.compile(r"(\d+) seconds left|overdue by (\d+) seconds")


def clock(reported: datetime, now: datetime) -> helpdesk.FirstAnswerClock:
    return helpdesk.first_answer_clock(CALENDAR, 60, 0.8, reported, now)


# --- the clock -------------------------------------------------------------------------------------------


def test_the_minute_counts_business_seconds_and_alerts_at_80_percent() -> None:
    assert CALENDAR.is_working_day(TUESDAY)
    c = clock(TUESDAY, TUESDAY + timedelta(seconds=20))
    assert (c.running, c.left, c.state) == (True, 40, "ok")
    assert c.zero_at == c.due_at == TUESDAY + timedelta(seconds=60)
    assert clock(TUESDAY, TUESDAY + timedelta(seconds=47)).state == "ok"
    assert clock(TUESDAY, TUESDAY + timedelta(seconds=48)).state == "alert"  # 80 % of the minute
    late = clock(TUESDAY, TUESDAY + timedelta(seconds=65))
    assert (late.left, late.state) == (-5, "overdue")


def test_a_running_clock_renders_the_same_at_every_refresh() -> None:
    """The list's HTML must not change from one poll to the next while nothing happens."""
    firsts = {clock(TUESDAY, TUESDAY + timedelta(seconds=s)).zero_at for s in (1, 2, 30, 59, 90)}
    assert firsts == {TUESDAY + timedelta(seconds=60)}


def test_the_clock_stops_outside_working_hours_and_says_until_when() -> None:
    before_close = TUESDAY.replace(hour=16, minute=59, second=30)
    running = clock(before_close, before_close + timedelta(seconds=10))
    assert running.running and running.left == 50
    assert running.pause_at == TUESDAY.replace(hour=17, minute=0, second=0)
    assert running.due_at == datetime(2026, 12, 2, 9, 0, 30, tzinfo=SHANGHAI)  # 30 s tonight, 30 s tomorrow
    evening = clock(before_close, TUESDAY.replace(hour=20))
    assert (evening.running, evening.left, evening.resumes_at) == (
        False, 30, datetime(2026, 12, 2, 9, 0, tzinfo=SHANGHAI))
    saturday = datetime(2026, 12, 5, 11, 0, tzinfo=SHANGHAI)
    weekend = clock(saturday, saturday + timedelta(minutes=5))
    assert (weekend.running, weekend.left) == (False, 60)
    assert weekend.resumes_at == datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)


def test_the_target_and_the_alert_come_from_the_sla_policy(intake: Any) -> None:
    calendar, target, fraction = helpdesk.first_answer_rules(intake.settings)
    assert (target, fraction) == (60.0, 0.8)


# --- the pages -------------------------------------------------------------------------------------------


def sign_in(intake: Any, role: str, subject: str, street: str | None) -> Any:
    client = intake.client
    client.set_cookie(SESSION_COOKIE, session_for(client.application, role, subject, street))
    return client


def file_online(intake: Any, title: str, **overrides: Any) -> str:
    resp = intake.client.post("/api/v1/demands", json=demand_body(channel="online_helpdesk", title=title, **overrides),
                              headers=intake.auth(*AGENT))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def csrf(client: Any, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def test_only_help_desk_agents_open_the_desk(intake: Any) -> None:
    client = sign_in(intake, "grid_worker", "grid-wujiaochang-01", "wujiaochang")
    for path in ("/helpdesk", "/helpdesk/list", "/helpdesk/new"):
        assert client.get(path).status_code == 403
    client.delete_cookie(SESSION_COOKIE)
    assert client.get("/helpdesk").status_code == 302  # to the sign-in


def test_the_list_shows_unanswered_online_demands_oldest_first_with_their_clock(intake: Any) -> None:
    now = datetime.now(SHANGHAI)
    older = file_online(intake, "较早的在线诉求", reported_at=(now - timedelta(minutes=2)).isoformat())
    newer = file_online(intake, "刚提交的在线诉求")
    intake.client.post("/api/v1/demands", json=demand_body(title="网格员的诉求"),
                       headers=intake.auth("grid_worker", "grid-wujiaochang-01", "wujiaochang"))
    client = sign_in(intake, *AGENT)
    page = client.get("/helpdesk?lang=en").get_data(as_text=True)
    assert page.index(older) < page.index(newer)
    assert "网格员的诉求" not in page  # not an online demand
    assert 'data-poll-url="/helpdesk/list" data-poll-seconds="2"' in page
    rows = re.findall(r'<li class="card hd-row urgency-(\w+)"\s+data-demand-id="([^"]+)" data-state="(\w+)"', page)
    assert [r[1] for r in rows] == [older, newer]
    # Running (working hours) or stopped: either way the row tells the seconds and says so in words.
    expected = helpdesk.clock_of(intake.settings, intake.ctx.now(), intake.ctx.now())
    if expected.running:
        assert 'data-left-label="{n} seconds left"' in page and "answer by" in page
    else:
        assert "Clock stopped: outside working hours" in page and "it runs again from" in page
        assert LEFT.search(page)
    # The list alone (for the poll) is the same rows, with no CSRF token (it would change at each refresh).
    fragment = client.get("/helpdesk/list?lang=en").get_data(as_text=True)
    assert fragment.index(older) < fragment.index(newer) and "csrf_token" not in fragment
    assert fragment == client.get("/helpdesk/list?lang=en").get_data(as_text=True)


def test_an_answered_demand_leaves_the_list(intake: Any) -> None:
    answered, waiting = file_online(intake, "已答复的"), file_online(intake, "还在等的")
    intake.publish("yangpu.demand.acknowledged.v1", {"demand_id": answered, "street": "wujiaochang",
                                                     "actor_id": "hd-01"})
    client = sign_in(intake, *AGENT)
    intake.until(lambda: answered not in client.get("/helpdesk/list").get_data(as_text=True))
    assert waiting in client.get("/helpdesk/list").get_data(as_text=True)


class Routing:
    """Stands in for routing's API as the page calls it."""

    def __init__(self, status: int | None = None) -> None:
        self.status, self.calls = status, []

    def __call__(self, service: str, path: str, params: Any = None, *, body: Any = None) -> Any:
        self.calls.append((service, path, body))
        if self.status is not None:
            raise ServiceUnavailable("refused", self.status if self.status else None)
        return {"state": "acknowledged"}


@pytest.mark.parametrize(("refusal", "status", "words"), [
    (None, 200, "Answered: the first-response clock has stopped."),
    (409, 409, "It was already answered"),
    (404, 404, "Routing has not received this demand yet"),
    (0, 503, "Routing is not answering"),
])
def test_answering_calls_routing_and_says_what_happened(intake: Any, monkeypatch: pytest.MonkeyPatch,
                                                       refusal: int | None, status: int, words: str) -> None:
    demand_id = file_online(intake, "要答复的")
    routing = Routing(refusal)
    monkeypatch.setattr(helpdesk, "call_service", routing)
    client = sign_in(intake, *AGENT)
    token = csrf(client, "/helpdesk")
    resp = client.post(f"/helpdesk/demands/{demand_id}/acknowledge?lang=en", headers={
        "Accept": "application/json", "X-CSRFToken": token})
    assert resp.status_code == status
    assert resp.get_json()["message"].startswith(words)
    assert routing.calls == [("routing", f"/api/v1/demands/{demand_id}/acknowledge", {})]
    # Without a script: back to the desk, with the same words on the page when routing refused.
    page = client.post(f"/helpdesk/demands/{demand_id}/acknowledge?lang=en", data={"csrf_token": token})
    if status == 200:
        assert page.status_code == 302 and page.headers["Location"].endswith(f"/helpdesk?answered={demand_id}")
    else:
        assert page.status_code == status and words in page.get_data(as_text=True)


def test_answering_needs_the_csrf_token_and_a_demand_id(intake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    routing = Routing()
    monkeypatch.setattr(helpdesk, "call_service", routing)
    client = sign_in(intake, *AGENT)
    assert client.post(f"/helpdesk/demands/{file_online(intake, 'x')}/acknowledge").status_code == 400
    token = csrf(client, "/helpdesk")
    resp = client.post("/helpdesk/demands/not-an-id/acknowledge", headers={"X-CSRFToken": token,
                                                                           "Accept": "application/json"})
    assert resp.status_code == 404 and routing.calls == []


def form_of(title: str, street: str = "dinghai") -> dict[str, str]:
    body = demand_body(street=street, title=title)
    ent = body["enterprise"]
    return {"street": street, "category": body["category"], "complexity": "simple", "title": title,
            "description": body["description"], "enterprise.uscc": ent["uscc"], "enterprise.name": ent["name"],
            "enterprise.contact_name": ent["contact_name"], "enterprise.contact_phone": ent["contact_phone"]}


def test_the_desk_logs_an_online_demand_in_the_street_chosen(intake: Any) -> None:
    client = sign_in(intake, *AGENT)
    form_page = client.get("/helpdesk/new?lang=en").get_data(as_text=True)
    assert 'name="street"' in form_page and '<option value="dinghai">' in form_page
    assert 'data-lookup-url="/grid/enterprises"' in form_page
    token = csrf(client, "/helpdesk/new")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form_page)[1]
    resp = client.post("/helpdesk/demands", data={**form_of("在线登记的诉求"), "csrf_token": token,
                                                  "idempotency_key": key})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    demand_id = resp.headers["Location"].rsplit("filed=", 1)[1]
    with intake.ctx.sessions() as session:
        demand = session.get(Demand, demand_id)
        assert (demand.channel, demand.street, demand.created_by) == ("online_helpdesk", "dinghai", "hd-01")
    desk = client.get(resp.headers["Location"] + "&lang=en").get_data(as_text=True)
    assert f"Logged: demand {demand_id.replace('-', '')[:8].upper()}" in desk and demand_id in desk
    # The same key again is the same demand, not a second one.
    again = client.post("/helpdesk/demands", data={**form_of("在线登记的诉求"), "csrf_token": token,
                                                   "idempotency_key": key})
    assert again.headers["Location"].endswith(demand_id)


def test_a_form_without_a_street_comes_back_with_the_problem_beside_it(intake: Any) -> None:
    client = sign_in(intake, *AGENT)
    token = csrf(client, "/helpdesk/new")
    data = {**form_of("没有街道"), "street": "", "title": "", "csrf_token": token}
    resp = client.post("/helpdesk/demands?lang=en", data=data)
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert re.search(r'id="e-street"[^>]*>\S', page) and re.search(r'id="e-title"[^>]*>\S', page)
    assert 'value="没有街道"' not in page and "Some fields need fixing." in page


def test_agents_use_the_registry_look_up(intake: Any) -> None:
    client = sign_in(intake, *AGENT)
    found = client.get("/grid/enterprises?q=" + enterprise("dinghai")["uscc"][:10])
    assert found.status_code == 200
