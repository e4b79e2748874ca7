"""Intake's side of the longer work-order lifecycle (issue 15): the new events move the reporter's status and
appear in the timeline in both languages, a likely duplicate is offered to whoever logs a demand, and a merged
duplicate's history joins its survivor's once, however often the merge is delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from intake_service.domain.policy import (
    DUPLICATE_WINDOW,
    DemandState,
    apply_event,
    demand_number,
    is_likely_duplicate,
    open311_status,
    timeline_details,
)
from intake_service.model import Demand
from shared.contracts import events
from shared.webkit.pages import SESSION_COOKIE
from tests.harness import Harness
from tests.helpers import demand_body, enterprise
from tests.signin import session_for

STREET = "wujiaochang"
WORKER = "grid-wujiaochang-01"
OFFICER = "com-wujiaochang-1"
SUPERVISOR = "sup-wujiaochang"
NOW = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


# --- the pure rules --------------------------------------------------------------------------------------


def _state(status: str = "in_progress", outcome: str | None = None) -> DemandState:
    return DemandState(status=status, assignee_id=OFFICER, department=None, outcome=outcome, satisfaction=None,
                       escalated=False, sla_status="on_track")


def test_each_new_event_moves_the_status_or_keeps_it():
    kept = {"extension_requested": {"working_days": 3.0, "reason": "x"},
            "extension_approved": {"working_days": 3.0, "business_seconds": 86400, "reason": ""},
            "extension_refused": {"reason": "x"},
            "returned": {"from_officer_id": OFFICER, "reason_code": "wrong_street", "note": "", "returns": 1}}
    for kind, data in kept.items():
        after = apply_event(_state(), kind, data)
        assert (after.status, after.assignee_id) == ("in_progress", OFFICER), kind
    reviewed = apply_event(_state(), "resolved", {"outcome": "unresolvable", "review": True})
    assert (reviewed.status, reviewed.outcome) == ("under_review", "unresolvable")
    assert apply_event(_state(), "resolved", {"outcome": "resolved"}).status == "resolved"
    assert apply_event(reviewed, "review_approved", {}).status == "resolved"
    sent_back = apply_event(reviewed, "sent_back", {"reason": "答复不完整"})
    assert (sent_back.status, sent_back.outcome) == ("in_progress", None)
    for kind, data in {"withdrawn": {"reason": ""}, "rejected": {"reason_code": "private_dispute"},
                       "merged": {"into": "x"}}.items():
        assert apply_event(_state(), kind, data).status == kind
    assert apply_event(reviewed, "withdrawn", {}).status == "withdrawn"


def test_open311_closes_the_demands_that_end_and_not_one_under_review():
    assert [open311_status(s) for s in ("withdrawn", "rejected", "merged", "resolved", "closed")] == ["closed"] * 5
    assert open311_status("under_review") == "open"


def test_timeline_details_keep_codes_days_and_the_survivors_number():
    survivor = "0a1b2c3d-0000-4000-8000-000000000001"
    assert timeline_details("returned", {"from_officer_id": OFFICER, "reason_code": "not_ours", "note": "",
                                         "returns": 2, "actor_id": OFFICER}) == {
        "from_officer_id": OFFICER, "reason_code": "not_ours", "note": "", "returns": 2}
    assert timeline_details("rejected", {"reason_code": "judicial_matter", "note": "已起诉"}) == {
        "reason_code": "judicial_matter", "note": "已起诉"}
    assert timeline_details("extension_approved", {"working_days": 2.5, "business_seconds": 72000, "reason": ""}) \
        == {"working_days": 2.5, "reason": ""}
    assert timeline_details("merged", {"into": survivor}) == {"into": survivor, "into_number": "0A1B2C3D"}
    assert timeline_details("resolved", {"outcome": "resolved", "note": "", "review": True})["review"] is True
    assert "review" not in timeline_details("resolved", {"outcome": "resolved", "note": ""})


def test_routings_own_lifecycle_reasons_are_kept_as_codes():
    assert timeline_details("escalated", {"reason": "repeated_return", "automatic": True, "to_officer_id": None}) \
        == {"reason_code": "repeated_return", "automatic": True, "to_officer_id": None}
    assert timeline_details("transferred", {"reason": "officer_unavailable"})["reason_code"] == "officer_unavailable"
    assert timeline_details("sent_back", {"reason": "repeated_return"}) == {"reason": "repeated_return"}  # typed


def test_a_likely_duplicate_is_open_and_received_within_the_window():
    assert is_likely_duplicate("in_progress", NOW - DUPLICATE_WINDOW, NOW)  # the boundary is inside
    assert not is_likely_duplicate("in_progress", NOW - DUPLICATE_WINDOW - timedelta(seconds=1), NOW)
    assert is_likely_duplicate("under_review", NOW, NOW)
    for status in ("resolved", "closed", "withdrawn", "rejected", "merged"):
        assert not is_likely_duplicate(status, NOW, NOW), status


# --- through the service -----------------------------------------------------------------------------------


def _log(intake: Any, **overrides: Any) -> dict[str, Any]:
    resp = intake.client.post("/api/v1/demands", json=demand_body(**overrides), headers=intake.grid(STREET, WORKER))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _view(intake: Any, demand_id: str) -> dict[str, Any]:
    return intake.client.get(f"/api/v1/demands/{demand_id}", headers=intake.grid(STREET, WORKER)).get_json()


def _act(intake: Any, type_: str, demand_id: str, **data: Any) -> str:
    return intake.publish(type_, {"demand_id": demand_id, "street": STREET, "actor_id": OFFICER, **data})


def _kinds(intake: Any, demand_id: str) -> list[str]:
    return [t["kind"] for t in _view(intake, demand_id)["timeline"]]


def _settled(intake: Any, demand_id: str, kind: str, status: str) -> dict[str, Any]:
    """Step the worker until the demand's timeline ends with ``kind``; the view then has ``status``."""
    view = intake.until(lambda: (v := _view(intake, demand_id))["timeline"][-1]["kind"] == kind and v)
    assert view["status"] == status, (kind, view["status"])
    return view


def _client(intake: Any, role: str = "grid_worker", subject: str = WORKER) -> Any:
    client = intake.client.application.test_client()
    street = None if role in ("hotline_agent", "helpdesk_agent") else STREET
    client.set_cookie(SESSION_COOKIE, session_for(client.application, role, subject, street))
    return client


def _page(intake: Any, demand_id: str, lang: str) -> str:
    resp = _client(intake).get(f"/grid/demands/{demand_id}?lang={lang}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


@pytest.mark.both_backends
def test_extension_return_and_review_keep_or_move_the_status_and_read_in_both_languages(intake):
    demand_id = _log(intake)["id"]
    _act(intake, events.ASSIGNED, demand_id, officer_id=OFFICER, officer_kind="street_commissioner",
         rule="street_commissioner", queue="officer")
    _act(intake, events.ACKNOWLEDGED, demand_id)
    _settled(intake, demand_id, "acknowledged", "in_progress")
    _act(intake, events.EXTENSION_REQUESTED, demand_id, working_days=3, reason="需要调取历史档案")
    _settled(intake, demand_id, "extension_requested", "in_progress")
    _act(intake, events.EXTENSION_REFUSED, demand_id, actor_id=SUPERVISOR, reason="材料已齐全")
    _settled(intake, demand_id, "extension_refused", "in_progress")
    _act(intake, events.EXTENSION_APPROVED, demand_id, actor_id=SUPERVISOR, working_days=2.5,
         business_seconds=72000)
    _settled(intake, demand_id, "extension_approved", "in_progress")
    _act(intake, events.RETURNED, demand_id, from_officer_id=OFFICER, reason_code="wrong_street", returns=1)
    view = _settled(intake, demand_id, "returned", "in_progress")
    assert view["timeline"][-1]["details"] == {"from_officer_id": OFFICER, "reason_code": "wrong_street",
                                               "note": "", "returns": 1}
    _act(intake, events.RESOLVED, demand_id, outcome="explained", note="已解释政策", review=True)
    view = _settled(intake, demand_id, "resolved", "under_review")
    assert view["outcome"] == "explained"
    _act(intake, events.SENT_BACK, demand_id, actor_id=SUPERVISOR, reason="答复不完整")
    view = _settled(intake, demand_id, "sent_back", "in_progress")
    assert view["outcome"] is None
    _act(intake, events.RESOLVED, demand_id, outcome="resolved", review=True)
    _settled(intake, demand_id, "resolved", "under_review")
    english_review = _page(intake, demand_id, "en")
    assert "the street&#39;s supervisor is reviewing the answer" in english_review
    assert "Waiting for the supervisor's review" in english_review
    _act(intake, events.REVIEW_APPROVED, demand_id, actor_id=SUPERVISOR)
    _settled(intake, demand_id, "review_approved", "resolved")

    english = _page(intake, demand_id, "en")
    for words in ("Extension requested", "Extension refused", "Extension approved", "Working days: 2.5",
                  "Working days: 3", "Returned for re-routing", "Reason: it belongs to another street",
                  "Times returned: 1", "Sent back in review", "Reason: 答复不完整", "Resolution approved"):
        assert words in english, words
    chinese = _page(intake, demand_id, "zh_Hans_CN")
    for words in ("申请延期", "延期未批准", "延期已批准", "工作日: 2.5", "退单改派", "原因: 属于其他街道",
                  "退单次数: 1", "审核退回", "结案审核通过", "待结案审核"):
        assert words in chinese, words
    assert "wrong_street" not in chinese and "Returned for re-routing" not in chinese


@pytest.mark.both_backends
def test_withdrawn_and_rejected_demands_end_in_their_own_status_in_both_languages(intake):
    withdrawn, rejected = _log(intake)["id"], _log(intake, category="employment")["id"]
    _act(intake, events.WITHDRAWN, withdrawn, reason="企业已自行解决")
    _act(intake, events.REJECTED, rejected, actor_id=SUPERVISOR, reason_code="private_dispute", note="合同纠纷")
    _settled(intake, withdrawn, "withdrawn", "withdrawn")
    view = _settled(intake, rejected, "rejected", "rejected")
    assert view["timeline"][-1]["details"] == {"reason_code": "private_dispute", "note": "合同纠纷"}
    english, chinese = _page(intake, rejected, "en"), _page(intake, rejected, "zh_Hans_CN")
    assert "Not accepted" in english and "Reason: a private commercial dispute" in english
    assert "不予受理：不属于政府受理范围。" in chinese and "原因: 民商事纠纷" in chinese
    assert "已应企业要求撤销。" in _page(intake, withdrawn, "zh_Hans_CN")
    assert "Withdrawn at the enterprise&#39;s request." in _page(intake, withdrawn, "en")
    listed = intake.client.get(f"/open311/v2/requests/{rejected}.json",
                               headers=intake.grid(STREET, WORKER)).get_json()
    assert listed[0]["status"] == "closed"


def _duplicates(intake: Any, uscc: str, category: str = "taxation", headers: Any = None) -> Any:
    return intake.client.get("/api/v1/demands/likely-duplicates", query_string={"uscc": uscc, "category": category},
                             headers=headers or intake.grid(STREET, WORKER))


@pytest.mark.both_backends
def test_a_likely_duplicate_is_offered_to_whoever_logs_and_its_boundaries_hold(intake):
    uscc = enterprise(STREET)["uscc"]
    first = _log(intake)
    assert first["likely_duplicates"] == []
    second = _log(intake)
    assert second["likely_duplicates"] == [first["id"]]  # stored all the same
    other_category = _log(intake, category="employment")["id"]
    other_enterprise = _log(intake, key=True)["id"]

    found = _duplicates(intake, uscc)
    assert found.status_code == 200
    items = found.get_json()["items"]
    assert [i["id"] for i in items] == [second["id"], first["id"]]  # newest first
    assert set(items[0]) == {"id", "number", "title", "status", "received_at"}  # no contact, no phone
    assert items[0]["number"] == demand_number(second["id"]) and items[0]["status"] == "submitted"
    assert [i["id"] for i in _duplicates(intake, uscc, "employment").get_json()["items"]] == [other_category]
    key_uscc = enterprise(STREET, key=True)["uscc"]
    assert [i["id"] for i in _duplicates(intake, key_uscc).get_json()["items"]] == [other_enterprise]

    _act(intake, events.CLOSED, first["id"])  # closed: no longer a duplicate
    _settled(intake, first["id"], "closed", "closed")
    assert [i["id"] for i in _duplicates(intake, uscc).get_json()["items"]] == [second["id"]]

    now = datetime.now(UTC)
    with intake.session() as session:  # received just inside the window, then just outside it
        session.execute(update(Demand).where(Demand.id == second["id"])
                        .values(received_at=now - DUPLICATE_WINDOW + timedelta(minutes=5)))
    assert [i["id"] for i in _duplicates(intake, uscc).get_json()["items"]] == [second["id"]]
    with intake.session() as session:
        session.execute(update(Demand).where(Demand.id == second["id"])
                        .values(received_at=now - DUPLICATE_WINDOW - timedelta(minutes=5)))
    assert _duplicates(intake, uscc).get_json()["items"] == []
    assert _log(intake)["likely_duplicates"] == []

    # Who may ask, and with what.
    hotline = intake.auth("hotline_agent", "agent-1")
    assert _duplicates(intake, uscc, headers=hotline).status_code == 200
    assert _duplicates(intake, uscc, headers=intake.auth("admin", "admin-1")).status_code == 403
    assert _duplicates(intake, "91310110MA1G8A6F3").status_code == 422
    assert _duplicates(intake, uscc, "no_such_category").status_code == 422
    assert intake.client.get("/api/v1/demands/likely-duplicates", query_string={"uscc": uscc},
                             headers=intake.grid(STREET, WORKER)).status_code == 422


def test_the_forms_offer_the_duplicate_with_a_link_for_the_role(intake):
    uscc = enterprise(STREET)["uscc"]
    first = _log(intake)
    grid = _client(intake)
    for path in ("/grid",):
        assert "data-duplicates-url" in grid.get(path).get_data(as_text=True)
    answer = grid.get("/intake/likely-duplicates", headers={"Accept": "application/json"},
                      query_string={"uscc": uscc, "category": "taxation", "lang": "zh_Hans_CN"}).get_json()
    assert answer["items"] == [{"number": demand_number(first["id"]), "title": first["title"], "status": "已提交",
                                "url": f"/grid/demands/{first['id']}"}]
    assert answer["notice"] == "该企业已有同类诉求在办：{demand}，可告知企业进度而不新建"
    assert grid.get("/intake/likely-duplicates", query_string={"uscc": uscc[:10], "category": "taxation"}).get_json() \
        == {"items": []}  # half typed: nothing yet

    hotline = _client(intake, "hotline_agent", "agent-1")
    assert "data-duplicates-url" in hotline.get("/hotline").get_data(as_text=True)
    item = hotline.get("/intake/likely-duplicates", query_string={"uscc": uscc, "category": "taxation"}).get_json()
    assert item["items"][0]["url"] == f"/hotline/demands/{first['id']}"
    helpdesk = _client(intake, "helpdesk_agent", "desk-1")
    assert "data-duplicates-url" in helpdesk.get("/helpdesk/new").get_data(as_text=True)
    item = helpdesk.get("/intake/likely-duplicates", query_string={"uscc": uscc, "category": "taxation"}).get_json()
    assert item["items"][0]["number"] == demand_number(first["id"]) and item["items"][0]["url"] is None


@pytest.mark.both_backends
def test_a_merge_joins_the_duplicates_timeline_to_the_survivor_once_however_often_it_is_delivered(intake):
    survivor, duplicate = _log(intake)["id"], _log(intake)["id"]
    _act(intake, events.ASSIGNED, duplicate, officer_id=OFFICER, officer_kind="street_commissioner",
         rule="street_commissioner", queue="officer")
    merge = Harness.publish(intake, events.MERGED, {"demand_id": duplicate, "street": STREET, "actor_id": OFFICER,
                                                    "into": survivor, "at": datetime.now(UTC)})
    _settled(intake, duplicate, "merged", "merged")
    intake.republish(merge)  # redelivered, same id
    _act(intake, events.MERGED, duplicate, into=survivor)  # sent again, another id
    intake.pump()

    assert _kinds(intake, duplicate) == ["submitted", "assigned", "merged"]
    assert _view(intake, duplicate)["timeline"][-1]["details"]["into_number"] == demand_number(survivor)
    timeline = _view(intake, survivor)["timeline"]
    assert [t["kind"] for t in timeline] == ["submitted", "assigned", "merged", "merged_in"]
    assert timeline[-1]["details"] == {"from": duplicate, "from_number": demand_number(duplicate)}
    assert [t["details"].get("merged_from") for t in timeline[1:3]] == [demand_number(duplicate)] * 2
    assert _view(intake, survivor)["status"] == "submitted"  # the survivor carries on as it was
    assert f"合并了诉求 {demand_number(duplicate)}" in _page(intake, survivor, "zh_Hans_CN")
    english = _page(intake, survivor, "en")
    assert f"Merged demand {demand_number(duplicate)}" in english
    assert f"From demand {demand_number(duplicate)}" in english
    assert "Merged into another demand of the enterprise" in _page(intake, duplicate, "en")


def _issue_link(intake: Any, demand_id: str) -> str:
    resp = intake.client.post(f"/api/v1/demands/{demand_id}/enterprise-link", headers=intake.grid(STREET, WORKER))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["url"].rsplit("/e/", 1)[1]


def test_the_enterprises_page_says_the_new_ends_in_plain_words_and_its_link_expires_after_them(intake):
    survivor, duplicate, rejected = _log(intake)["id"], _log(intake)["id"], _log(intake)["id"]
    links = {d: _issue_link(intake, d) for d in (survivor, duplicate, rejected)}
    _act(intake, events.EXTENSION_APPROVED, survivor, actor_id=SUPERVISOR, working_days=3, business_seconds=86400)
    _act(intake, events.MERGED, duplicate, into=survivor)
    long_ago = datetime.now(UTC) - timedelta(days=31)
    _act(intake, events.REJECTED, rejected, actor_id=SUPERVISOR, reason_code="other_authority", at=long_ago)
    _settled(intake, duplicate, "merged", "merged")
    _settled(intake, rejected, "rejected", "rejected")
    visitor = intake.client.application.test_client()

    page = visitor.get(f"/e/{links[survivor]}?lang=zh_Hans_CN").get_data(as_text=True)
    assert "已批准延期 3 个工作日。" in page
    assert f"您就同一事项提出的诉求 {demand_number(duplicate)} 已合并至本诉求。" in page
    page = visitor.get(f"/e/{links[duplicate]}?lang=en").get_data(as_text=True)
    assert "Your demand was merged with another of yours about the same matter, which carries on." in page
    assert f"Merged into your demand {demand_number(survivor)}, where it carries on." in page
    assert "To be resolved by" not in page  # an ended demand promises no deadline
    # Rejected 31 days ago: its link has expired as a closed demand's does.
    assert visitor.get(f"/e/{links[rejected]}").status_code == 404
