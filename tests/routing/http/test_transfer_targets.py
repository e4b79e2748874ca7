"""Issue 12, item 7 and the satisfaction rule of item 12, in routing.

Transfers stay within the demand's street: the transfer form lists exactly the officers the transfer command
accepts (``policy.transfer_targets``), anyone else is 422 on ``to_officer`` and changes nothing. The
enterprise's satisfaction is recorded by whoever speaks for it, never by the holder of the demand.
"""

from __future__ import annotations

import re

import pytest

from routing_service import queries
from shared.auth import Principal
from shared.webkit.pages import SESSION_COOKIE
from tests.routing.conftest import OFFICER_1, OFFICER_2
from tests.signin import session_for

RESOLVE = {"outcome": "resolved", "note": "已处理"}
ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "24:00"}
# Who a wujiaochang demand held by com-wujiaochang-1 may go to (tests/routing/roster.yaml).
WUJIAOCHANG_TARGETS = [OFFICER_2, "cso-wujiaochang", "spec-tax-1", "spec-tax-2", "sup-wujiaochang"]


def _add_changbai_commissioner(routing) -> None:
    resp = routing.client.post("/api/v1/officers", headers=routing.auth("admin", "admin-1"), json={
        "id": "com-changbai-1", "name": "专员丙", "kind": "street_commissioner", "streets": ["changbai"],
        "skills": ["taxation"], "capacity": 5, "duty": ALWAYS})
    assert resp.status_code == 201, resp.get_json()


@pytest.fixture
def held(routing):
    """A wujiaochang demand held by com-wujiaochang-1, with a changbai commissioner in the roster."""
    _add_changbai_commissioner(routing)
    demand_id = routing.submit()
    assert routing.assignment(demand_id).officer_id == OFFICER_1
    routing.clear_outbox()
    return demand_id


def _unchanged(routing, demand_id: str, resp, status: int) -> dict:
    """``resp`` has ``status`` and the demand, the loads and the outbox are as before."""
    assert resp.status_code == status, resp.get_json()
    a = routing.assignment(demand_id)
    assert (a.officer_id, a.state) == (OFFICER_1, "assigned")
    assert routing.officer(OFFICER_1).open_count == 1
    assert routing.outbox_count() == 0
    return resp.get_json()


def _page_targets(routing, demand_id: str, principal: Principal) -> list[str]:
    """The ids the demand page's transfer form offers to ``principal`` (rendered, as a browser gets it)."""
    token = session_for(routing.client.application, principal.role, principal.subject, principal.street)
    routing.client.set_cookie(SESSION_COOKIE, token)
    html = routing.client.get(f"/officer/demands/{demand_id}").get_data(as_text=True)
    routing.client.delete_cookie(SESSION_COOKIE)
    select = html.split('id="f-to-officer"', 1)[1].split("</select>", 1)[0]
    return [i for i in re.findall(r'<option value="([^"]*)"', select) if i]


@pytest.mark.both_backends
@pytest.mark.parametrize("target", ["sup-changbai", "com-changbai-1"])
def test_another_streets_officer_or_supervisor_is_422_on_to_officer_and_changes_nothing(routing, held, target):
    for headers in (routing.officer_auth(), routing.supervisor_auth(), routing.auth("admin", "admin-1")):
        error = _unchanged(routing, held, routing.act(held, "transfer", {"to_officer": target, "reason": "x"},
                                                      headers=headers), 422)
        assert list(error["errors"]) == ["to_officer"] and target in error["errors"]["to_officer"][0]


def test_the_page_lists_exactly_the_targets_the_api_accepts(routing, held):
    holder = Principal(OFFICER_1, "officer", None)
    listed = _page_targets(routing, held, holder)
    assert listed == WUJIAOCHANG_TARGETS
    assert [o["id"] for o in queries.demand_page(routing.ctx, holder, held)["colleagues"]] == listed
    everyone = [o["id"] for o in routing.client.get("/api/v1/officers",
                                                    headers=routing.auth("admin", "admin-1")).get_json()]
    for refused in sorted(set(everyone) - set(listed) - {OFFICER_1}):
        _unchanged(routing, held, routing.act(held, "transfer", {"to_officer": refused, "reason": "x"}), 422)
    for target in listed:  # each accepted, one after the other (each hand-over frees the previous holder)
        resp = routing.act(held, "transfer", {"to_officer": target, "reason": "x"}, headers=routing.supervisor_auth())
        assert resp.status_code == 200 and resp.get_json()["officer_id"] == target, resp.get_json()


def test_an_unassigned_demand_offers_its_own_streets_people_and_the_specialists(routing):
    _add_changbai_commissioner(routing)
    sup = Principal("sup-changbai", "supervisor", "changbai")
    demand_id = routing.submit(street="changbai", category="financing")  # com-changbai-1 lacks the skill
    assert routing.assignment(demand_id).officer_id is None
    assert _page_targets(routing, demand_id, sup) == ["com-changbai-1", "spec-tax-1", "spec-tax-2", "sup-changbai"]
    routing.clear_outbox()
    resp = routing.act(demand_id, "transfer", {"to_officer": OFFICER_1, "reason": "x"},
                       headers=routing.supervisor_auth("changbai"))
    assert resp.status_code == 422 and list(resp.get_json()["errors"]) == ["to_officer"]
    assert routing.assignment(demand_id).officer_id is None and routing.outbox_count() == 0
    resp = routing.act(demand_id, "transfer", {"to_officer": "com-changbai-1", "reason": "本街道专员"},
                       headers=routing.supervisor_auth("changbai"))
    assert resp.status_code == 200 and resp.get_json()["officer_id"] == "com-changbai-1"


def test_the_holder_may_hand_it_to_the_streets_supervisor_and_a_specialist(routing, held):
    view = routing.act(held, "transfer", {"to_officer": "sup-wujiaochang", "reason": "需要监督协调"}).get_json()
    assert view["officer_id"] == "sup-wujiaochang"
    view = routing.act(held, "transfer", {"to_officer": "spec-tax-2", "reason": "税务专业"},
                       headers=routing.supervisor_auth()).get_json()
    assert view["officer_id"] == "spec-tax-2"


def test_supervisors_reassign_within_their_street_and_admins_anywhere(routing, held):
    _unchanged(routing, held, routing.act(held, "transfer", {"to_officer": OFFICER_2, "reason": "x"},
                                          headers=routing.supervisor_auth("changbai")), 403)
    resp = routing.act(held, "transfer", {"to_officer": OFFICER_2, "reason": "管理员调整"},
                       headers=routing.auth("admin", "admin-1"))
    assert resp.status_code == 200 and resp.get_json()["officer_id"] == OFFICER_2
    assert routing.act(held, "acknowledge", headers=routing.auth("admin", "admin-1")).status_code == 403


# --- satisfaction: the enterprise's verdict, never the holder's -------------------------------------------


@pytest.fixture
def resolved(routing, held):
    assert routing.act(held, "resolve", RESOLVE).status_code == 200
    routing.clear_outbox()
    return held


@pytest.mark.both_backends
@pytest.mark.parametrize("who", ["holder", "supervisor", "grid worker elsewhere"])
def test_the_holder_and_other_officers_may_not_record_satisfaction(routing, resolved, who):
    headers = {"holder": routing.officer_auth(),
               "supervisor": routing.supervisor_auth(),
               "grid worker elsewhere": routing.auth("grid_worker", "gw-cb", "changbai")}[who]
    resp = routing.act(resolved, "feedback", {"satisfaction": "satisfied"}, headers=headers)
    assert resp.status_code == 403, resp.get_json()
    a = routing.assignment(resolved)
    assert (a.state, a.satisfaction) == ("resolved", None) and routing.outbox_count() == 0


def test_a_supervisor_holding_the_demand_may_not_rate_it_either(routing, held):
    assert routing.act(held, "transfer", {"to_officer": "sup-wujiaochang", "reason": "x"}).status_code == 200
    assert routing.act(held, "resolve", RESOLVE, headers=routing.supervisor_auth()).status_code == 200
    routing.clear_outbox()
    resp = routing.act(held, "feedback", {"satisfaction": "satisfied"}, headers=routing.supervisor_auth())
    assert resp.status_code == 403 and routing.outbox_count() == 0


@pytest.mark.parametrize("role, subject, street", [
    ("grid_worker", "gw-wjc", "wujiaochang"), ("hotline_agent", "hotline-01", None),
    ("helpdesk_agent", "helpdesk-01", None)])
def test_whoever_speaks_for_the_enterprise_records_it(routing, resolved, role, subject, street):
    resp = routing.act(resolved, "feedback", {"satisfaction": "satisfied"},
                       headers=routing.auth(role, subject, street))
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["satisfaction"] == "satisfied"
    [(_, data)] = routing.outbox()
    assert data["actor_id"] == subject


def test_the_officers_page_offers_no_feedback_form(routing, resolved):
    routing.client.set_cookie(SESSION_COOKIE, session_for(routing.client.application, "officer", OFFICER_1))
    html = routing.client.get(f"/officer/demands/{resolved}").get_data(as_text=True)
    assert "/feedback" not in html and "/close" in html
