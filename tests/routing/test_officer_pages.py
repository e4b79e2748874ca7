"""The officer's pages in-process (no browser): the lists with the enterprise's name, search and refused
arguments; forms with nothing pre-selected, a placeholder that is refused, the materials note required, the
close confirmed; clocks worded in business time."""

from __future__ import annotations

import re

from tests.e2e.test_pages_server import csrf, sign_in
from tests.harness import Harness
from tests.helpers import demand_body

SUPERVISOR = ("supervisor", "sup-wujiaochang", "wujiaochang")


def _filed(suite: Harness) -> str:
    answer = suite.clients["intake"].post("/api/v1/demands", json=demand_body(title="厂房用电增容"),
                                          headers=suite.auth("grid_worker", "gw-1", "wujiaochang"))
    assert answer.status_code == 201, answer.get_json()
    demand_id = answer.get_json()["id"]
    def held_and_timed() -> bool:  # routing holds it for com-1 and has heard sla's clocks
        view = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment",
                                            headers=suite.auth(*SUPERVISOR)).get_json()
        return view.get("officer_id") == "com-wujiaochang-1" and len(view.get("clocks", [])) == 2

    suite.until(held_and_timed)
    return demand_id


def test_the_lists_show_the_enterprise_search_and_name_a_refused_argument(suite: Harness) -> None:
    demand_id = _filed(suite)
    name = demand_body()["enterprise"]["name"]
    client = suite.clients["routing"]
    sign_in(suite, "routing", "officer", "com-wujiaochang-1")
    page = client.get("/officer").get_data(as_text=True)
    for tab in ("待办", "办结待回访", "已结案"):
        assert tab in page
    listed = page[page.index('id="queue"'):]  # (the notices above it name the enterprise too: issue 18)
    assert listed.count(name) == 2  # its card (phones) and its table row (desks)
    assert "个工作日" in page  # the clocks count working days
    found = client.get("/officer/list", query_string={"q": name[2:6], "channel": "grid"}).get_data(as_text=True)
    assert f"/officer/demands/{demand_id}" in found
    assert f"/officer/demands/{demand_id}" not in client.get("/officer/list?tab=closed").get_data(as_text=True)
    assert f"/officer/demands/{demand_id}" not in client.get("/officer/list?q=nothing-like-it").get_data(as_text=True)
    refused = client.get("/officer?status=lost&lang=en").get_data(as_text=True)
    assert "Some fields need fixing." in refused and f"/officer/demands/{demand_id}" in refused


def test_forms_preselect_nothing_refuse_a_placeholder_and_need_the_materials_note(suite: Harness) -> None:
    demand_id = _filed(suite)
    client = suite.clients["routing"]
    sign_in(suite, "routing", "officer", "com-wujiaochang-1")
    path = f"/officer/demands/{demand_id}"
    page = client.get(path).get_data(as_text=True)
    assert not re.search(r'name="(outcome|satisfaction)"[^>]* checked', page)
    assert re.search(r'<select id="f-to-department"[^>]*>\s*<option value="">', page)
    link = re.search(r'data-part="enterprise-link"\s+href="([^"]+)"', page)  # the enterprise's QR code, at intake
    assert link and link.group(1).endswith(f"/demands/{demand_id}/enterprise-link")
    token = csrf(client, path)

    unchosen = client.post(f"{path}/resolve?lang=en", data={"csrf_token": token, "choices": "outcome", "note": "已办"})
    assert unchosen.status_code == 422 and "Choose one of the options." in unchosen.get_data(as_text=True)
    no_department = client.post(f"{path}/transfer?lang=en",
                                data={"csrf_token": token, "to_department": "", "reason": "需要税务专员"})
    text = no_department.get_data(as_text=True)
    assert no_department.status_code == 422
    assert re.search(r'id="e-to_department"[^>]*>\s*Choose one of the options\.', text), text

    assert client.post(f"{path}/acknowledge", data={"csrf_token": token}).status_code == 302
    blank = client.post(f"{path}/request-materials?lang=en", data={"csrf_token": token, "note": "   "})
    text = blank.get_data(as_text=True)
    assert blank.status_code == 422 and re.search(r'id="e-materials-note"[^>]*>Required\.', text), text
    assert 'id="e-note" data-error-for="note" hidden' in text  # the resolve form's note is not blamed
    asked = client.post(f"{path}/request-materials", data={"csrf_token": token, "note": "营业执照复印件"})
    assert asked.status_code == 302
    view = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=suite.auth(*SUPERVISOR))
    assert view.get_json()["state"] == "awaiting_materials"
    clocks = client.get(f"{path}/clocks?lang=zh_Hans_CN").get_data(as_text=True)
    assert "暂停" in clocks  # the resolution clock pauses at once, before sla's event comes back


def test_the_close_asks_first(suite: Harness) -> None:
    demand_id = _filed(suite)
    client = suite.clients["routing"]
    sign_in(suite, "routing", "officer", "com-wujiaochang-1")
    path = f"/officer/demands/{demand_id}"
    token = csrf(client, path)
    done = client.post(f"{path}/resolve", data={"csrf_token": token, "outcome": "resolved", "note": "已办结"})
    assert done.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert re.search(r'action="[^"]*/close"[^>]*\s+data-confirm="确认结案', page), page
    assert "办结待回访" in client.get("/officer?tab=resolved").get_data(as_text=True)
    assert f"{path}\"" in client.get("/officer/list?tab=resolved").get_data(as_text=True)
