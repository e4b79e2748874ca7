"""The 12345 hotline desk's pages in-process (no browser, intake alone): logging a call through the grid form's
rules, the result panel before and after routing's assignment, the look-ups, "where is my demand?", the 回访
list and form, and every refusal as words on the page (routing here is unreachable or stubbed)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from intake_service.http import hotline_pages as hotline
from intake_service.model import Demand
from shared.webkit.pages import SESSION_COOKIE
from shared.webkit.service_client import ServiceUnavailable
from tests.helpers import demand_body, enterprise
from tests.signin import session_for

AGENT = ("hotline_agent", "hl-01", None)
SPECIALIST = "spec-tax"  # 钟月华, the tax department's specialist (deploy/roster.yaml)
ENTERPRISE = enterprise("wujiaochang")


def _csrf(client: Any, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def _form(**overrides: str) -> dict[str, str]:
    form = {"enterprise.uscc": ENTERPRISE["uscc"], "enterprise.name": ENTERPRISE["name"], "street": "wujiaochang",
            "enterprise.contact_name": "王经理", "enterprise.contact_phone": "138 1234 5678", "category": "taxation",
            "complexity": "simple", "title": "发票系统无法登录", "description": "企业来电：电子发票系统无法登录。",
            "idempotency_key": "hotline-test-key-0001"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def desk(intake: Any) -> Any:
    """Intake's client signed in as the hotline agent."""
    intake.client.set_cookie(SESSION_COOKIE, session_for(intake.client.application, *AGENT))
    return intake


def _log_call(desk: Any, **overrides: str) -> str:
    client = desk.client
    response = client.post("/hotline/demands", data={**_form(**overrides), "csrf_token": _csrf(client, "/hotline")})
    assert response.status_code == 302, response.get_data(as_text=True)
    return re.search(r"filed=([0-9a-f-]{36})", response.headers["Location"])[1]


def _demand(desk: Any, demand_id: str) -> Demand:
    with desk.session() as session:
        return session.get(Demand, demand_id)


def _assign(desk: Any, demand_id: str) -> None:
    desk.publish("yangpu.demand.assigned.v1", {
        "demand_id": demand_id, "street": "wujiaochang", "actor_id": "routing", "officer_id": SPECIALIST,
        "officer_kind": "department_specialist", "department": "tax", "rule": "hotline_department_specialist",
        "queue": "officer"})


def test_only_the_hotline_agent_opens_the_desk(intake: Any) -> None:
    client = intake.client
    assert client.get("/hotline").status_code == 302  # to the sign-in
    client.set_cookie(SESSION_COOKIE, session_for(client.application, "grid_worker", "grid-wujiaochang-01",
                                                  "wujiaochang"))
    assert client.get("/hotline").status_code == 403
    assert client.get("/hotline/search?q=x").status_code == 403
    client.set_cookie(SESSION_COOKIE, session_for(client.application, *AGENT))
    page = client.get("/hotline?lang=zh_Hans_CN").get_data(as_text=True)
    assert "登记 12345 来电" in page and 'name="street"' in page


def test_a_call_is_logged_on_the_hotline_channel_and_shows_who_has_it_once_routing_assigned_it(desk: Any) -> None:
    demand_id = _log_call(desk)
    stored = _demand(desk, demand_id)
    assert (stored.channel, stored.street, stored.created_by, stored.contact_phone) == \
        ("hotline_12345", "wujiaochang", "hl-01", "13812345678")
    page = desk.client.get(f"/hotline?filed={demand_id}&lang=zh_Hans_CN").get_data(as_text=True)
    number = demand_id.replace("-", "")[:8].upper()
    assert number in page and "分派中" in page
    assert f'data-poll-url="/hotline/demands/{demand_id}/result"' in page
    _assign(desk, demand_id)
    fragment = desk.until(lambda: (html := desk.client.get(f"/hotline/demands/{demand_id}/result?lang=zh_Hans_CN")
                                   .get_data(as_text=True)) and "钟月华" in html and html)
    assert "分派中" not in fragment and "税务" in fragment
    # The same key again is the same call, not a second demand.
    assert _log_call(desk) == demand_id


def test_a_refused_call_says_why_beside_the_fields_and_stores_nothing(desk: Any) -> None:
    before = desk.counts()["demands"]
    client = desk.client
    response = client.post("/hotline/demands", data={**_form(street="", **{"enterprise.contact_phone": "12"}),
                                                     "csrf_token": _csrf(client, "/hotline")},
                           query_string={"lang": "en"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="e-street"' in page and 'aria-invalid="true"' in page and "Some fields need fixing." in page
    assert re.search(r'id="e-enterprise-contact_phone"[^>]*>\s*\S', page)
    assert desk.counts()["demands"] == before


def test_the_caller_is_found_by_the_phone_of_an_earlier_demand(desk: Any) -> None:
    _log_call(desk)
    found = desk.client.get("/hotline/enterprises?phone=+86 138-1234-5678",
                            headers={"Accept": "application/json"}).get_json()["items"]
    assert [(e["uscc"], e["street"], e["contact_name"]) for e in found] == \
        [(ENTERPRISE["uscc"], "wujiaochang", "王经理")]
    assert desk.client.get("/hotline/enterprises?phone=13900000000").get_json()["items"] == []
    # Name and credit code go through the grid form's registry look-up, which admits the agent.
    items = desk.client.get(f"/grid/enterprises?q={ENTERPRISE['uscc'][:10]}").get_json()["items"]
    assert ENTERPRISE["uscc"] in [e["uscc"] for e in items]


@pytest.mark.parametrize("query", ["credit code", "number", "phone", "name"])
def test_where_is_my_demand_by_credit_code_number_phone_or_name(desk: Any, query: str) -> None:
    demand_id = _log_call(desk)
    _assign(desk, demand_id)
    desk.until(lambda: _demand(desk, demand_id).assignee_id == SPECIALIST)
    q = {"credit code": ENTERPRISE["uscc"], "number": demand_id.replace("-", "")[:8].upper(),
         "phone": "13812345678", "name": ENTERPRISE["name"][2:6]}[query]
    page = desk.client.get("/hotline/search", query_string={"q": q, "lang": "en"}).get_data(as_text=True)
    assert f'data-demand-id="{demand_id}"' in page
    assert "钟月华" in page and "发票系统无法登录" in page and ENTERPRISE["name"] in page
    assert "An officer has it and will contact the enterprise." in page
    assert "13812345678" not in page.split('class="cards"', 1)[1]  # no phone in clear in the list
    empty = desk.client.get("/hotline/search", query_string={"q": "没有这家企业", "lang": "en"}).get_data(as_text=True)
    assert "No demand matches" in empty


def test_the_demand_page_shows_the_timeline_and_says_when_routing_cannot_give_the_deadlines(desk: Any) -> None:
    demand_id = _log_call(desk)
    _assign(desk, demand_id)
    desk.until(lambda: _demand(desk, demand_id).assignee_id == SPECIALIST)
    response = desk.client.get(f"/hotline/demands/{demand_id}?lang=en")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="timeline"' in page and "钟月华" in page
    assert "the routing service did not answer" in page
    assert f'href="/demands/{demand_id}/enterprise-link"' in page  # the QR code for the enterprise
    assert desk.client.get("/hotline/demands/00000000-0000-4000-8000-000000000000").status_code == 404


def test_clocks_come_from_routing(desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    demand_id = _log_call(desk)
    clocks = [{"kind": "resolution", "status": "running", "target_at": "2030-01-07T06:59:00+00:00",
               "seconds_left": 7200, "business_seconds_used": 0, "business_seconds_target": 144000}]
    monkeypatch.setattr(hotline, "call_service", lambda service, path, *a, **k: {"clocks": clocks})
    page = desk.client.get(f"/hotline/demands/{demand_id}?lang=en").get_data(as_text=True)
    assert 'class="clock urgency-' in page and 'role="timer"' in page  # the clock macro, whatever its face


def _resolve(desk: Any, demand_id: str) -> None:
    desk.publish("yangpu.demand.resolved.v1", {"demand_id": demand_id, "street": "wujiaochang",
                                               "actor_id": SPECIALIST, "outcome": "resolved", "note": "已办结"})
    desk.until(lambda: _demand(desk, demand_id).status == "resolved")


def test_the_follow_up_call_list_and_form(desk: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    demand_id = _log_call(desk)
    _assign(desk, demand_id)
    _resolve(desk, demand_id)
    listed = desk.client.get("/hotline/callbacks").get_data(as_text=True)
    assert f'data-demand-id="{demand_id}"' in listed
    client = desk.client
    path = f"/hotline/demands/{demand_id}"
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert 'name="satisfaction"' in page and " checked" not in page  # nothing pre-selected

    # No answer chosen: asked again, nothing sent.
    sent: list[tuple[str, dict[str, Any]]] = []

    def routing(service: str, url: str, params: Any = None, *, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            raise ServiceUnavailable("no clocks here", 503)
        sent.append((url, body))
        return {"state": "feedback_received"}

    monkeypatch.setattr(hotline, "call_service", routing)
    response = client.post(f"{path}/feedback?lang=en", data={"comment": "x", "csrf_token": _csrf(client, path)})
    assert response.status_code == 422 and "Choose what the enterprise said" in response.get_data(as_text=True)
    assert sent == []

    response = client.post(f"{path}/feedback", data={"satisfaction": "satisfied", "comment": " 很及时 ",
                                                     "csrf_token": _csrf(client, path)})
    assert response.status_code == 302 and "rated=satisfied" in response.headers["Location"]
    assert sent == [(f"/api/v1/demands/{demand_id}/feedback", {"satisfaction": "satisfied", "comment": "很及时"})]
    desk.publish("yangpu.demand.feedback_received.v1", {"demand_id": demand_id, "street": "wujiaochang",
                                                        "actor_id": "hl-01", "satisfaction": "satisfied"})
    desk.until(lambda: _demand(desk, demand_id).satisfaction == "satisfied")
    assert f'data-demand-id="{demand_id}"' not in client.get("/hotline/callbacks").get_data(as_text=True)


@pytest.mark.parametrize("status, words", [
    (None, "the routing service did not answer"), (409, "no longer awaiting"), (403, "you may not rate"),
    (422, "refused it as incomplete")])
def test_a_refused_follow_up_is_told_in_words(desk: Any, monkeypatch: pytest.MonkeyPatch, status: int | None,
                                              words: str) -> None:
    demand_id = _log_call(desk)
    _resolve(desk, demand_id)

    def refuse(*_: Any, **__: Any) -> Any:
        raise ServiceUnavailable("refused", status)

    monkeypatch.setattr(hotline, "call_service", refuse)
    path = f"/hotline/demands/{demand_id}"
    response = desk.client.post(f"{path}/feedback?lang=en", data={"satisfaction": "unsatisfied",
                                                                 "csrf_token": _csrf(desk.client, path)})
    assert response.status_code == (status or 503)
    page = response.get_data(as_text=True)
    assert words in page and 'value="unsatisfied" required checked' in page  # the answer stays chosen


def test_routing_lets_a_hotline_agent_read_any_demands_clocks(suite: Any) -> None:
    """The desk's deadlines come from routing's assignment, which admits hotline agents for every demand."""
    resp = suite.clients["intake"].post("/api/v1/demands", json=demand_body(street="dinghai"),
                                        headers=suite.auth("grid_worker", "grid-dinghai-01", "dinghai"))
    assert resp.status_code == 201, resp.get_json()
    path = f"/api/v1/demands/{resp.get_json()['id']}/assignment"
    routing = suite.clients["routing"]
    view = suite.until(lambda: (r := routing.get(path, headers=suite.auth(*AGENT))).status_code == 200
                       and r.get_json()["clocks"] and r.get_json())  # once sla's clocks reached routing
    assert "resolution" in {c["kind"] for c in view["clocks"]}
    for role, subject, street in (("grid_worker", "grid-dinghai-01", "dinghai"),
                                  ("supervisor", "sup-wujiaochang", "wujiaochang")):
        assert routing.get(path, headers=suite.auth(role, subject, street)).status_code == 403, role
