"""The further lifecycle's pages in-process (issue 15): the officer asks for more time, returns a demand and merges
a duplicate into the enterprise's other open demand, the
supervisor approves the request and reviews a resolution from the street page, rejects a demand, reassigns an
officer's work in bulk (as the admin's roster does for an officer taken off duty); the hotline agent and the
enterprise's own link withdraw a demand. Every form offers its choices with nothing pre-selected, a reason
where routing needs one, and asks first where the demand ends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from intake_service.http import enterprise_pages, hotline_pages
from routing_service.http import pages, supervisor_pages
from shared.webkit.service_client import ServiceUnavailable
from tests.e2e.test_pages_server import csrf, sign_in
from tests.harness import Harness
from tests.helpers import demand_body

STREET = "wujiaochang"
OFFICER = ("officer", "com-wujiaochang-1", STREET)
SUPERVISOR = ("supervisor", "sup-wujiaochang", STREET)
HOTLINE = ("hotline_agent", "hl-01", None)


@pytest.fixture
def lifecycle(suite: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The suite with the pages' calls to another service answered by its in-process app, as the caller the
    page signs in (the routing pages read intake and sla; the hotline desk writes to routing)."""
    caller_of = {"routing": HOTLINE, "intake": SUPERVISOR, "sla": SUPERVISOR}  # by the service asked

    def call(service: str, path: str, params: dict[str, Any] | None = None, *, body: Any = None,
             token: str | None = None) -> Any:
        client = suite.clients[service]
        headers = {"Authorization": f"Bearer {token}"} if token else suite.auth(*caller_of[service])
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = (client.post(path, json=body, headers=headers) if body is not None
                    else client.get(path, query_string=query, headers=headers))
        if response.status_code not in (200, 201):
            raise ServiceUnavailable(f"{service} {path}: {response.status_code}", response.status_code)
        return response.get_json()

    for module in (pages, supervisor_pages, hotline_pages, enterprise_pages):
        monkeypatch.setattr(module, "call_service", call)
    return suite


def _filed(suite: Harness, title: str, **overrides: Any) -> str:
    answer = suite.clients["intake"].post("/api/v1/demands", json=demand_body(title=title, **overrides),
                                          headers=suite.auth("grid_worker", "gw-1", STREET))
    assert answer.status_code == 201, answer.get_json()
    demand_id = answer.get_json()["id"]
    suite.until(lambda: _view(suite, demand_id).get("officer_id") == OFFICER[1])
    return demand_id


def _view(suite: Harness, demand_id: str) -> dict[str, Any]:
    response = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment",
                                            headers=suite.auth(*SUPERVISOR))
    return response.get_json() if response.status_code == 200 else {}


def _english(location: str) -> str:
    """A redirect's address asked for in English (before its #fragment)."""
    return location.split("#", 1)[0] + "&lang=en"


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.mark.both_backends  # the street's requests are read from a JSON column
def test_the_officer_asks_for_more_time_and_the_supervisor_approves_it_from_the_street(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "厂房改造需延期")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *OFFICER)
    path = f"/officer/demands/{demand_id}"
    token = csrf(client, path)
    assert client.post(f"{path}/acknowledge", data={"csrf_token": token}).status_code == 302
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    assert 'name="working_days"' in page and "Request an extension" in page
    assert "/approve-extension" not in page  # the holder does not grant their own request

    no_reason = client.post(f"{path}/request-extension?lang=en", data={"csrf_token": token, "working_days": "2"})
    text = no_reason.get_data(as_text=True)
    assert no_reason.status_code == 422
    assert re.search(r'id="e-request-extension-reason"[^>]*>[^<]+', text), text
    assert 'id="e-send-back-reason"' not in text  # only the form that was sent is blamed
    asked = client.post(f"{path}/request-extension",
                        data={"csrf_token": token, "working_days": "2", "reason": "需等待规划部门批复"})
    assert asked.status_code == 302, asked.get_data(as_text=True)
    assert _view(lifecycle, demand_id)["extension_request"]["working_days"] == 2
    assert f"{path}/request-extension" not in client.get(path).get_data(as_text=True)  # one request at a time

    sign_in(lifecycle, "routing", *SUPERVISOR)
    assert "/approve-extension" in client.get(path).get_data(as_text=True)  # offered while a request waits
    street = client.get("/supervisor?lang=en").get_data(as_text=True)
    card = re.search(rf'<li class="card" data-demand-id="{demand_id}" data-card="extension">.*?</li>', street, re.S)
    assert card, street
    assert "2 more working days" in _text(card[0]) and "需等待规划部门批复" in card[0]
    refuse_without = client.post(f"{path}/refuse-extension?lang=en",
                                 data={"csrf_token": csrf(client, "/supervisor"), "back": "supervisor"})
    assert refuse_without.status_code == 422  # a refusal needs its reason; the demand's page says so
    approved = client.post(f"{path}/approve-extension",
                           data={"csrf_token": csrf(client, "/supervisor"), "back": "supervisor"})
    assert approved.status_code == 302 and "/supervisor?done=approve-extension" in approved.headers["Location"]
    view = _view(lifecycle, demand_id)
    assert view["extension_count"] == 1 and not view["extension_request"]
    after = client.get("/supervisor?done=approve-extension&lang=en").get_data(as_text=True)
    assert "Done: Approve the extension." in after
    assert f'data-demand-id="{demand_id}" data-card="extension"' not in after
    assert "/approve-extension" not in client.get(path).get_data(as_text=True)  # nothing waits any more


def test_a_return_offers_labelled_reasons_nothing_chosen_and_leaves_the_officer(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "诉求属于其他街道")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *OFFICER)
    path = f"/officer/demands/{demand_id}"
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    select = re.search(r'<select id="f-return-code"[^>]*>(.*?)</select>', page, re.S)
    assert select and re.match(r'\s*<option value="">', select[1]) and "selected" not in select[1]
    assert "it belongs to another street" in select[1] and "not_ours" in select[1]
    assert re.search(r'action="[^"]*/return"[^>]*data-confirm=', page)
    token = csrf(client, path)
    unchosen = client.post(f"{path}/return?lang=en", data={"csrf_token": token, "reason_code": "", "note": "x"})
    assert unchosen.status_code == 422
    assert re.search(r'id="e-return-reason_code"[^>]*>Choose one of the options\.', unchosen.get_data(as_text=True))
    returned = client.post(f"{path}/return", data={"csrf_token": token, "reason_code": "wrong_street",
                                                   "note": "应属殷行街道"})
    assert returned.status_code == 302
    view = _view(lifecycle, demand_id)
    assert view["officer_id"] and view["officer_id"] != OFFICER[1] and OFFICER[1] in view["returned_by"]


@pytest.mark.both_backends
def test_an_unresolvable_resolution_waits_for_review_and_is_sent_back_with_a_reason(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "无法解决的诉求")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *OFFICER)
    path = f"/officer/demands/{demand_id}"
    token = csrf(client, path)
    resolved = client.post(f"{path}/resolve", data={"csrf_token": token, "choices": "outcome",
                                                    "outcome": "unresolvable", "note": "超出街道职权"})
    assert resolved.status_code == 302
    assert _view(lifecycle, demand_id)["state"] == "under_review"

    sign_in(lifecycle, "routing", *SUPERVISOR)
    street = client.get("/supervisor?lang=en").get_data(as_text=True)
    card = re.search(rf'data-demand-id="{demand_id}" data-card="review">.*?</li>', street, re.S)
    assert card and "超出街道职权" in card[0] and "/send-back" in card[0] and "/approve-resolution" in card[0]
    token = csrf(client, "/supervisor")
    blank = client.post(f"{path}/send-back?lang=en", data={"csrf_token": token, "back": "supervisor", "reason": " "})
    assert blank.status_code == 422
    assert re.search(r'id="e-send-back-reason"[^>]*>[^<]+', blank.get_data(as_text=True))
    sent = client.post(f"{path}/send-back", data={"csrf_token": token, "back": "supervisor",
                                                  "reason": "请联系区法院确认后再办结"})
    assert sent.status_code == 302 and "done=send-back" in sent.headers["Location"]
    assert _view(lifecycle, demand_id)["state"] == "acknowledged"


def test_the_supervisor_does_not_accept_a_demand_after_confirming(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "商业合同纠纷")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *SUPERVISOR)
    path = f"/officer/demands/{demand_id}"
    page = client.get(path).get_data(as_text=True)
    assert re.search(r'action="[^"]*/reject"[^>]*data-confirm="[^"]+"', page), page
    select = re.search(r'<select id="f-reject-code"[^>]*>(.*?)</select>', page, re.S)
    assert select and "selected" not in select[1] and 'value="private_dispute"' in select[1]
    rejected = client.post(path + "/reject", data={"csrf_token": csrf(client, path), "reason_code": "private_dispute",
                                                   "note": "属企业间合同纠纷"})
    assert rejected.status_code == 302
    assert _view(lifecycle, demand_id)["state"] == "rejected"


def test_an_officers_open_work_is_reassigned_in_bulk_by_the_supervisor(lifecycle: Harness) -> None:
    first, second = _filed(lifecycle, "待改派一"), _filed(lifecycle, "待改派二")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *SUPERVISOR)
    work = client.get(f"/supervisor/officers/{OFFICER[1]}?show=open&lang=en").get_data(as_text=True)
    form = re.search(r'<form[^>]*data-part="reassign".*?</form>', work, re.S)
    assert form and "data-confirm=" in form[0] and f"/supervisor/officers/{OFFICER[1]}/reassign" in form[0]
    assert re.search(r'<select id="f-reassign-[^"]+" name="to_officer">\s*<option value="">', form[0])
    token = csrf(client, f"/supervisor/officers/{OFFICER[1]}")
    moved = client.post(f"/supervisor/officers/{OFFICER[1]}/reassign",
                        data={"csrf_token": token, "to_officer": SUPERVISOR[1]})
    assert moved.status_code == 303 and "moved=" in moved.headers["Location"]
    assert {_view(lifecycle, d)["officer_id"] for d in (first, second)} == {SUPERVISOR[1]}
    told = client.get(_english(moved.headers["Location"])).get_data(as_text=True)
    assert re.search(r"\b([2-9]|\d\d+) demands reassigned\.", told), _text(told)
    unknown = client.post(f"/supervisor/officers/{OFFICER[1]}/reassign?lang=en",
                          data={"csrf_token": token, "to_officer": "nobody-here"})
    assert unknown.status_code == 422 and "Nothing was reassigned" in unknown.get_data(as_text=True)


def test_the_roster_offers_the_reassignment_of_an_officer_taken_off_duty(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "休假前的诉求")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", "admin", "admin-01", None)
    roster = client.get(f"/admin/roster?street={STREET}").get_data(as_text=True)
    assert f"/admin/roster/{OFFICER[1]}/reassign" not in roster  # on duty: nothing to offer yet
    token = csrf(client, "/admin/roster")
    off = client.post(f"/admin/roster/{OFFICER[1]}/duty?street={STREET}", data={"csrf_token": token, "on_duty": "0"})
    assert off.status_code == 302
    card = re.search(rf'id="officer-{OFFICER[1]}".*?</li>', client.get(off.headers["Location"]).get_data(as_text=True),
                     re.S)
    assert card and f"/admin/roster/{OFFICER[1]}/reassign" in card[0] and "data-confirm=" in card[0]
    done = client.post(f"/admin/roster/{OFFICER[1]}/reassign?street={STREET}", data={"csrf_token": token})
    assert done.status_code == 302 and "done=reassign" in done.headers["Location"]
    told = _text(client.get(_english(done.headers["Location"])).get_data(as_text=True))
    assert "Open demands reassigned" in told, told
    # The rules choose without the officer: another commissioner on shift, else it stays (and the page says so).
    if _view(lifecycle, demand_id)["officer_id"] == OFFICER[1]:
        assert "0 demands reassigned. 1 stays with them: nobody else can take it now." in told, told
    else:
        assert "1 demand reassigned." in told and "stays with them" not in told, told


def test_the_hotline_agent_withdraws_a_demand_at_the_enterprises_request(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "企业来电撤销")
    client = lifecycle.clients["intake"]
    sign_in(lifecycle, "intake", *HOTLINE)
    path = f"/hotline/demands/{demand_id}"
    page = client.get(path).get_data(as_text=True)
    assert re.search(r'action="[^"]*/withdraw"[^>]*data-confirm="[^"]+"', page), page
    token = csrf(client, path)
    blank = client.post(f"{path}/withdraw?lang=en", data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422 and "Write down why the enterprise withdraws it." in blank.get_data(as_text=True)
    done = client.post(f"{path}/withdraw", data={"csrf_token": token, "reason": "企业已自行解决"})
    assert done.status_code == 302, done.get_data(as_text=True)
    assert _view(lifecycle, demand_id)["state"] == "withdrawn"
    again = client.post(f"{path}/withdraw?lang=en", data={"csrf_token": token, "reason": "再次撤销"})
    assert again.status_code == 409 and "Not withdrawn" in again.get_data(as_text=True)


def test_the_enterprise_withdraws_its_own_demand_through_its_link(lifecycle: Harness) -> None:
    demand_id = _filed(lifecycle, "企业自行撤销")
    issued = lifecycle.clients["intake"].post(f"/api/v1/demands/{demand_id}/enterprise-link",
                                              headers=lifecycle.auth("grid_worker", "gw-1", STREET))
    assert issued.status_code in (200, 201), issued.get_json()
    link = issued.get_json()["url"].split("/e/", 1)[1]
    visitor = lifecycle.clients["intake"].application.test_client()
    html = visitor.get(f"/e/{link}?lang=en").get_data(as_text=True)
    assert "Withdraw my demand" in html and re.search(r'action="/e/[^"]+/withdraw"[^>]*data-confirm=', html)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)[1]
    blank = visitor.post(f"/e/{link}/withdraw?lang=en", data={"csrf_token": token, "reason": ""})
    assert blank.status_code == 422
    done = visitor.post(f"/e/{link}/withdraw", data={"csrf_token": token, "reason": "问题已解决，不再需要"})
    assert done.status_code == 303 and done.headers["Location"].endswith("withdrawn=1")
    assert _view(lifecycle, demand_id)["state"] == "withdrawn"


def test_a_duplicate_is_merged_into_the_enterprises_other_open_demand_chosen_from_a_list(lifecycle: Harness) -> None:
    survivor = _filed(lifecycle, "用电增容（电话）")
    duplicate = _filed(lifecycle, "用电增容（网格）")
    client = lifecycle.clients["routing"]
    sign_in(lifecycle, "routing", *OFFICER)
    path = f"/officer/demands/{duplicate}"
    page = client.get(f"{path}?lang=en").get_data(as_text=True)
    select = re.search(r'<select id="f-merge-into"[^>]*>(.*?)</select>', page, re.S)
    assert select and re.match(r'\s*<option value="">', select[1]) and "selected" not in select[1]
    assert f'value="{survivor}"' in select[1] and f'value="{duplicate}"' not in select[1]  # never itself
    assert "用电增容（电话）" in select[1]
    assert re.search(r'action="[^"]*/merge"[^>]*data-confirm=', page)
    token = csrf(client, path)
    unchosen = client.post(f"{path}/merge?lang=en", data={"csrf_token": token, "into": ""})
    assert unchosen.status_code == 422
    assert re.search(r'id="e-merge-into"[^>]*>Choose one of the options\.', unchosen.get_data(as_text=True))
    merged = client.post(f"{path}/merge", data={"csrf_token": token, "into": survivor})
    assert merged.status_code == 302, merged.get_data(as_text=True)
    view = _view(lifecycle, duplicate)
    assert (view["state"], view["merged_into"]) == ("merged", survivor)
    assert f'href="/officer/demands/{survivor}"' in client.get(path).get_data(as_text=True)
