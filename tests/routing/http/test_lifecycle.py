"""The work order's further lifecycle over HTTP (issue 15): extension, return, closure review, withdrawal,
rejection, merge and bulk reassignment — each transition, and each refusal changing nothing."""

from __future__ import annotations

import pytest

from routing_service import commands
from routing_service.domain.policy import LifecyclePolicy
from routing_service.domain.states import EVENT_TYPES
from shared.contracts import events
from tests.routing.conftest import OFFICER_1, OFFICER_2, submitted
from tests.routing.http.test_actions import ACKED, AWAITING, RESOLVE, _drive, _ok, _refused, _voice

pytestmark = pytest.mark.both_backends

UNRESOLVABLE = {"outcome": "unresolvable", "note": "属于司法程序，无法协调"}
ASK = {"working_days": 2, "reason": "需要等待区税务局会商"}


@pytest.fixture
def held(routing):
    """A demand assigned to com-wujiaochang-1 and acknowledged, the outbox drained."""
    demand_id = routing.submit()
    _drive(routing, demand_id, *ACKED)
    return demand_id


def _types(routing) -> list[str]:
    return [t for t, _ in routing.outbox()]


def _sup(routing, street: str = "wujiaochang") -> dict[str, str]:
    return routing.supervisor_auth(street)


def _as_supervisor(routing, demand_id: str, action: str, body: dict) -> None:
    _ok(routing.act(demand_id, action, body, headers=_sup(routing)))
    routing.clear_outbox()


# --- extension ---------------------------------------------------------------------------------------


def test_extension_requested_then_approved_carries_business_seconds(routing, held):
    view = _ok(routing.act(held, "request-extension", ASK))
    assert (view["state"], view["extension_request"]["working_days"], view["extension_count"]) == (
        "acknowledged", 2, 0)
    data = routing.outbox()[0][1]
    assert (_types(routing), data["working_days"], data["reason"]) == (
        [EVENT_TYPES["request-extension"]], 2, ASK["reason"])
    routing.clear_outbox()
    view = _ok(routing.act(held, "approve-extension", {}, headers=_sup(routing)))
    assert (view["extension_request"], view["extension_count"]) == (None, 1)
    [(type_, data)] = routing.outbox()
    assert type_ == events.EXTENSION_APPROVED
    assert (data["working_days"], data["business_seconds"], data["actor_id"]) == (2, 57_600, "sup-wujiaochang")


def test_extension_refused_with_a_reason(routing, held):
    _drive(routing, held, ("request-extension", ASK))
    view = _ok(routing.act(held, "refuse-extension", {"reason": "五个工作日足够"}, headers=_sup(routing)))
    assert (view["extension_request"], view["extension_count"]) == (None, 0)
    [(type_, data)] = routing.outbox()
    assert (type_, data["reason"]) == (events.EXTENSION_REFUSED, "五个工作日足够")


def test_the_street_supervisor_may_ask_while_awaiting_materials(routing, held):
    _drive(routing, held, *AWAITING[1:])
    view = _ok(routing.act(held, "request-extension", {"working_days": 0.5, "reason": "材料迟到"},
                           headers=_sup(routing)))
    assert (view["state"], view["extension_request"]["actor_id"]) == ("awaiting_materials", "sup-wujiaochang")


def test_extension_refusals(routing, held):
    fresh = routing.submit()  # assigned (to com-2), not acknowledged
    routing.clear_outbox()
    assert "is assigned" in _refused(routing, fresh, 409, "request-extension", ASK, headers=_sup(routing))[
        "message"]
    # too long for a simple demand (5 working days of target, share 1.0), too short, no reason
    assert "working_days" in _refused(routing, held, 422, "request-extension", {**ASK, "working_days": 5.5})["errors"]
    assert "working_days" in _refused(routing, held, 422, "request-extension", {**ASK, "working_days": 0.4})["errors"]
    assert "reason" in _refused(routing, held, 422, "request-extension", {"working_days": 1})["errors"]
    # nothing waiting: neither approve nor refuse
    assert "no extension is waiting" in _refused(routing, held, 409, "approve-extension", {},
                                                 headers=_sup(routing))["message"]
    _refused(routing, held, 409, "refuse-extension", {"reason": "x"}, headers=_sup(routing))
    _drive(routing, held, ("request-extension", ASK))
    assert "already waiting" in _refused(routing, held, 409, "request-extension", ASK)["message"]
    # only the street's supervisor decides; never the holder, another street's supervisor or an admin
    for headers in (routing.officer_auth(), _sup(routing, "changbai"), routing.auth("admin", "a")):
        _refused(routing, held, 403, "approve-extension", {}, headers=headers)
    _refused(routing, held, 422, "refuse-extension", {}, headers=_sup(routing))


def test_the_policy_allows_one_approved_extension(routing, held):
    _drive(routing, held, ("request-extension", ASK))
    _ok(routing.act(held, "approve-extension", {"reason": "同意"}, headers=_sup(routing)))
    routing.clear_outbox()
    assert "1 of the 1 extension" in _refused(routing, held, 409, "request-extension", ASK)["message"]


def test_a_complex_demand_may_ask_for_up_to_its_target_again(routing):
    demand_id = routing.submit(complexity="complex")  # 10 working days
    _drive(routing, demand_id, *ACKED)
    assert _ok(routing.act(demand_id, "request-extension", {**ASK, "working_days": 10}))["extension_request"]


# --- return for re-routing ---------------------------------------------------------------------------


def test_return_goes_to_whoever_the_rules_pick_without_the_returning_officer(routing, held):
    view = _ok(routing.act(held, "return", {"reason_code": "wrong_department", "note": "应由专员乙负责"}))
    assert (view["officer_id"], view["rule"], view["state"], view["returned_by"], view["escalated"]) == (
        OFFICER_2, "returned", "acknowledged", [OFFICER_1], False)
    (t1, returned), (t2, assigned) = routing.outbox()
    assert (t1, t2) == (events.RETURNED, events.ASSIGNED)
    assert (returned["from_officer_id"], returned["reason_code"], returned["returns"]) == (
        OFFICER_1, "wrong_department", 1)
    assert (assigned["officer_id"], assigned["rule"]) == (OFFICER_2, "returned")
    assert (routing.officer(OFFICER_1).open_count, routing.officer(OFFICER_2).open_count) == (0, 1)


def test_the_second_return_goes_to_the_street_supervisor_escalated(routing, held):
    _drive(routing, held, ("return", {"reason_code": "not_ours"}))
    view = _ok(routing.act(held, "return", {"reason_code": "not_ours"}, headers=routing.officer_auth(OFFICER_2)))
    assert (view["officer_id"], view["escalated"], view["escalated_to"], view["returned_by"]) == (
        "sup-wujiaochang", True, "sup-wujiaochang", [OFFICER_1, OFFICER_2])
    assert _types(routing) == [events.RETURNED, events.ASSIGNED, events.ESCALATED]
    escalated = routing.outbox()[2][1]
    assert (escalated["reason"], escalated["automatic"]) == ("repeated_return", True)
    assert (routing.officer(OFFICER_2).open_count, routing.officer("sup-wujiaochang").open_count) == (0, 1)


def test_return_refusals(routing, held):
    _refused(routing, held, 403, "return", {"reason_code": "not_ours"}, headers=_sup(routing))  # not the holder
    _refused(routing, held, 403, "return", {"reason_code": "not_ours"}, headers=routing.officer_auth(OFFICER_2))
    assert "reason_code" in _refused(routing, held, 422, "return", {"reason_code": "lazy"})["errors"]
    _drive(routing, held, ("resolve", RESOLVE))
    assert "is resolved" in _refused(routing, held, 409, "return", {"reason_code": "not_ours"})["message"]


# --- closure review ----------------------------------------------------------------------------------


def test_an_unresolvable_outcome_goes_to_review_then_is_approved(routing, held):
    view = _ok(routing.act(held, "resolve", UNRESOLVABLE))
    assert (view["state"], view["outcome"]) == ("under_review", "unresolvable")
    [(type_, data)] = routing.outbox()
    assert (type_, data["review"]) == (events.RESOLVED, True)
    assert routing.officer(OFFICER_1).open_count == 0
    assert routing.assignment(held).is_open is False
    routing.clear_outbox()
    view = _ok(routing.act(held, "approve-resolution", {"note": "同意结案"}, headers=_sup(routing)))
    assert view["state"] == "resolved"
    [(type_, data)] = routing.outbox()
    assert (type_, data["note"]) == (events.REVIEW_APPROVED, "同意结案")


def test_an_ordinary_resolution_stands_at_once(routing, held):
    assert _ok(routing.act(held, "resolve", RESOLVE))["state"] == "resolved"
    assert routing.outbox()[0][1]["review"] is False


def test_a_key_enterprise_and_the_sample_are_reviewed(routing, monkeypatch):
    key = routing.submit(key=True, chief="cso-wujiaochang")
    assert _ok(routing.act(key, "resolve", RESOLVE, headers=routing.officer_auth("cso-wujiaochang")))[
        "state"] == "under_review"
    monkeypatch.setattr(commands, "lifecycle_policy", lambda settings: LifecyclePolicy(review_sample_share=1.0))
    sampled = routing.submit()
    assert _ok(routing.act(sampled, "resolve", RESOLVE))["state"] == "under_review"


def test_send_back_reopens_to_the_same_holder(routing, held):
    _drive(routing, held, ("resolve", UNRESOLVABLE))
    view = _ok(routing.act(held, "send-back", {"reason": "请再与企业沟通"}, headers=routing.auth("admin", "admin-1")))
    assert (view["state"], view["officer_id"], view["outcome"]) == ("acknowledged", OFFICER_1, None)
    [(type_, data)] = routing.outbox()
    assert (type_, data["reason"], data["actor_id"]) == (events.SENT_BACK, "请再与企业沟通", "admin-1")
    assert routing.officer(OFFICER_1).open_count == 1


def test_review_refusals(routing, held):
    _refused(routing, held, 409, "approve-resolution", {}, headers=_sup(routing))  # nothing to review
    _drive(routing, held, ("resolve", UNRESOLVABLE))
    for headers in (routing.officer_auth(), _sup(routing, "changbai")):
        _refused(routing, held, 403, "approve-resolution", {}, headers=headers)
    assert "reason" in _refused(routing, held, 422, "send-back", {}, headers=_sup(routing))["errors"]
    assert "is under_review" in _refused(routing, held, 409, "close", {})["message"]


def test_a_supervisor_never_reviews_their_own_resolution(routing):
    demand_id = routing.submit(channel="fallback_window")  # the street's supervisor holds it
    assert routing.assignment(demand_id).officer_id == "sup-wujiaochang"
    _as_supervisor(routing, demand_id, "resolve", UNRESOLVABLE)
    error = _refused(routing, demand_id, 403, "approve-resolution", {}, headers=_sup(routing))
    assert "never by its holder" in error["message"]
    assert _ok(routing.act(demand_id, "approve-resolution", {}, headers=routing.auth("admin", "a")))[
        "state"] == "resolved"


# --- withdrawal and rejection ------------------------------------------------------------------------


def test_withdrawn_by_whoever_speaks_for_the_enterprise_is_final(routing, held):
    view = _ok(routing.act(held, "withdraw", {"reason": "企业已自行解决"}, headers=_voice(routing)))
    assert (view["state"], routing.assignment(held).is_open) == ("withdrawn", False)
    assert routing.outbox()[0][0] == events.WITHDRAWN
    assert routing.officer(OFFICER_1).open_count == 0
    routing.clear_outbox()
    assert "is withdrawn" in _refused(routing, held, 409, "resolve", RESOLVE)["message"]


def test_the_enterprise_withdraws_its_own_demand_only(routing, held):
    other = routing.submit()
    routing.clear_outbox()
    _refused(routing, other, 403, "withdraw", {"reason": "x"}, headers=routing.auth("enterprise", held))
    _refused(routing, held, 403, "withdraw", {"reason": "x"})  # the holder: not the enterprise's voice
    _refused(routing, held, 403, "withdraw", {"reason": "x"},
             headers=routing.auth("grid_worker", "gw-2", "changbai"))
    assert _ok(routing.act(held, "withdraw", {"reason": "不需要了"}, headers=routing.auth("enterprise", held)))[
        "state"] == "withdrawn"


def test_a_demand_under_review_may_be_withdrawn(routing, held):
    _drive(routing, held, ("resolve", UNRESOLVABLE))
    assert _ok(routing.act(held, "withdraw", {"reason": "撤销"}, headers=_voice(routing)))["state"] == "withdrawn"
    assert routing.officer(OFFICER_1).open_count == 0


def test_rejected_by_the_street_supervisor(routing, held):
    view = _ok(routing.act(held, "reject", {"reason_code": "private_dispute", "note": "商业合同纠纷"},
                           headers=_sup(routing)))
    assert view["state"] == "rejected"
    [(type_, data)] = routing.outbox()
    assert (type_, data["reason_code"], data["note"]) == (events.REJECTED, "private_dispute", "商业合同纠纷")
    assert routing.officer(OFFICER_1).open_count == 0


def test_reject_refusals(routing, held):
    body = {"reason_code": "judicial_matter"}
    _refused(routing, held, 403, "reject", body)  # the holder
    _refused(routing, held, 403, "reject", body, headers=_sup(routing, "changbai"))
    assert "reason_code" in _refused(routing, held, 422, "reject", {"reason_code": "boring"},
                                     headers=_sup(routing))["errors"]
    _drive(routing, held, ("resolve", RESOLVE))
    assert "is resolved" in _refused(routing, held, 409, "reject", body, headers=_sup(routing))["message"]


# --- merge -------------------------------------------------------------------------------------------


def test_a_duplicate_merges_into_the_open_demand_of_the_same_enterprise(routing, held):
    survivor = routing.submit()  # the same credit code
    routing.clear_outbox()
    view = _ok(routing.act(held, "merge", {"into": survivor}))
    assert (view["state"], view["merged_into"]) == ("merged", survivor)
    [(type_, data)] = routing.outbox()
    assert (type_, data["into"]) == (events.MERGED, survivor)
    assert routing.officer(OFFICER_1).open_count == 0  # com-2 took the survivor
    assert routing.assignment(survivor).state == "assigned"


def test_merge_refusals_name_into(routing, held):
    other = submitted()
    other["enterprise"] = {**other["enterprise"], "uscc": "91310110MA1G8TQ81X"}
    routing.publish(events.SUBMITTED, other)
    routing.pump()
    finished = routing.submit()
    _as_supervisor(routing, finished, "reject", {"reason_code": "not_a_demand"})
    for into, words in ((held, "itself"), ("no-such-demand", "has not reached routing"),
                        (finished, "is rejected"), (other["demand_id"], "different enterprises")):
        error = _refused(routing, held, 422, "merge", {"into": into})
        assert words in error["errors"]["into"][0], error
    _refused(routing, held, 403, "merge", {"into": other["demand_id"]}, headers=routing.officer_auth(OFFICER_2))
    assert "into" in _refused(routing, held, 422, "merge", {})["errors"]
    assert "is rejected" in _refused(routing, finished, 409, "merge", {"into": held}, headers=_sup(routing))[
        "message"]


# --- bulk reassignment -------------------------------------------------------------------------------


def _reassign(routing, officer_id: str, body: dict | None = None, headers: dict | None = None):
    return routing.client.post(f"/api/v1/officers/{officer_id}/reassign", json=body or {},
                               headers=headers if headers is not None else routing.auth("admin", "admin-1"))


def test_an_officers_open_demands_move_on_by_the_rules(routing, held):
    second = routing.submit()  # com-2 (least loaded)
    third = routing.submit()  # com-1: 2 of 2
    routing.clear_outbox()
    assert routing.assignment(third).officer_id == OFFICER_1
    routing.client.post(f"/api/v1/officers/{OFFICER_1}/off-duty", headers=routing.auth("admin", "a"))
    routing.clear_outbox()
    answer = _ok(_reassign(routing, OFFICER_1))
    # com-2 has room for one more (2 of 2 then); nobody else may take the other (no chief officer, the
    # specialists are not a rule for a grid demand), so it stays with com-1 and is listed
    assert answer["moved"] == 1 and len(answer["stayed"]) == 1, answer
    [moved] = answer["items"]
    assert (moved["from_officer_id"], moved["to_officer_id"], moved["rule"]) == (OFFICER_1, OFFICER_2, "reassignment")
    [(type_, data)] = routing.outbox()
    assert (type_, data["from_officer_id"], data["to_officer_id"], data["reason"]) == (
        events.TRANSFERRED, OFFICER_1, OFFICER_2, "officer_unavailable")
    assert (data["to_department"], data["to_officer_kind"], data["to_officer_department"]) == (
        None, "street_commissioner", None)
    view = routing.assignment(moved["demand_id"])
    assert (view.officer_id, view.rule, view.state) == (OFFICER_2, "reassignment",
                                                        "acknowledged" if moved["demand_id"] == held else "assigned")
    assert (routing.officer(OFFICER_1).open_count, routing.officer(OFFICER_2).open_count) == (1, 2)
    assert second not in {moved["demand_id"], *answer["stayed"]}


def test_a_supervisor_overrides_the_rules_for_their_street(routing, held):
    answer = _ok(_reassign(routing, OFFICER_1, {"to_officer": "sup-wujiaochang"}, headers=_sup(routing)))
    assert (answer["moved"], answer["items"][0]["to_officer_id"]) == (1, "sup-wujiaochang")
    assert routing.assignment(held).officer_id == "sup-wujiaochang"


def test_reassignment_refusals(routing, held):
    for headers, status in ((_sup(routing, "changbai"), 403), (routing.officer_auth(OFFICER_2), 403), ({}, 401)):
        assert _reassign(routing, OFFICER_1, headers=headers).status_code == status
    assert _reassign(routing, "com-nobody").status_code == 404
    assert "to_officer" in _reassign(routing, OFFICER_1, {"to_officer": "com-nobody"}).get_json()["errors"]
    assert routing.assignment(held).officer_id == OFFICER_1 and routing.outbox_count() == 0
