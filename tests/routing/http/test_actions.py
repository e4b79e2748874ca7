"""Officer actions over HTTP: a test per transition and per kind of refusal; refusals change nothing."""

from __future__ import annotations

import pytest

from routing_service.domain.states import EVENT_TYPES
from tests.routing.conftest import OFFICER_1, OFFICER_2

RESOLVE = {"outcome": "resolved", "note": "已协调税务专员上门处理"}


@pytest.fixture
def held(routing):
    """A demand assigned to com-wujiaochang-1, the outbox drained."""
    demand_id = routing.submit()
    assert routing.assignment(demand_id).officer_id == OFFICER_1
    routing.clear_outbox()
    return demand_id


def _ok(resp) -> dict:
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def _voice(routing) -> dict[str, str]:
    """Someone speaking for the enterprise: who records its satisfaction (never the holder)."""
    return routing.auth("hotline_agent", "hotline-01")


def _drive(routing, demand_id: str, *steps: tuple[str, dict]) -> None:
    for action, body in steps:
        _ok(routing.act(demand_id, action, body, headers=_voice(routing) if action == "feedback" else None))
    routing.clear_outbox()


ACKED = [("acknowledge", {})]
AWAITING = [*ACKED, ("request-materials", {"note": "请补充营业执照"})]
RESOLVED = [*ACKED, ("resolve", RESOLVE)]
RATED = [*RESOLVED, ("feedback", {"satisfaction": "satisfied"})]
CLOSED = [*RESOLVED, ("close", {})]


def _one_event(routing, action: str) -> dict:
    [(type_, data)] = routing.outbox()
    assert type_ == EVENT_TYPES[action]
    return data


# --- each transition -------------------------------------------------------------------------------


def test_acknowledge(routing, held):
    view = _ok(routing.act(held, "acknowledge"))
    assert view["state"] == "acknowledged"
    data = _one_event(routing, "acknowledge")
    assert (data["demand_id"], data["actor_id"], data["street"]) == (held, OFFICER_1, "wujiaochang")


def test_request_materials(routing, held):
    _drive(routing, held, *ACKED)
    view = _ok(routing.act(held, "request-materials", {"note": "请补充营业执照"}))
    assert view["state"] == "awaiting_materials"
    assert _one_event(routing, "request-materials")["note"] == "请补充营业执照"


def test_materials_received(routing, held):
    _drive(routing, held, *AWAITING)
    assert _ok(routing.act(held, "materials-received"))["state"] == "acknowledged"
    _one_event(routing, "materials-received")


def test_transfer_to_an_officer_keeps_the_state_and_moves_the_load(routing, held):
    _drive(routing, held, *ACKED)
    view = _ok(routing.act(held, "transfer", {"to_officer": OFFICER_2, "reason": "专员乙熟悉该企业"}))
    assert (view["state"], view["officer_id"], view["rule"]) == ("acknowledged", OFFICER_2, "transfer")
    assert [(t["from_officer_id"], t["to_officer_id"], t["reason"]) for t in view["transfers"]] == [
        (OFFICER_1, OFFICER_2, "专员乙熟悉该企业")]
    data = _one_event(routing, "transfer")
    assert (data["from_officer_id"], data["to_officer_id"], data["to_department"]) == (OFFICER_1, OFFICER_2, None)
    # who the new holder is, for sla's department clocks
    assert (data["to_officer_kind"], data["to_officer_department"]) == ("street_commissioner", None)
    assert (routing.officer(OFFICER_1).open_count, routing.officer(OFFICER_2).open_count) == (0, 1)
    # the new holder may act; the former one may still read the history but no longer act
    assert _ok(routing.act(held, "resolve", RESOLVE, headers=routing.officer_auth(OFFICER_2)))["state"] == "resolved"
    past = routing.client.get(f"/api/v1/demands/{held}/assignment", headers=routing.officer_auth(OFFICER_1))
    assert past.status_code == 200


def test_transfer_to_a_department_picks_its_specialist(routing, held):
    view = _ok(routing.act(held, "transfer", {"to_department": "tax", "reason": "需要税务局专业人员"}))
    assert (view["officer_id"], view["officer_kind"], view["department"]) == (
        "spec-tax-1", "department_specialist", "tax")
    data = _one_event(routing, "transfer")
    assert (data["to_officer_id"], data["to_department"]) == ("spec-tax-1", "tax")
    assert (data["to_officer_kind"], data["to_officer_department"]) == ("department_specialist", "tax")


def test_supervisor_assigns_from_the_unassigned_queue(routing):
    demand_id = routing.submit(street="changbai")
    routing.clear_outbox()
    view = _ok(routing.act(demand_id, "transfer", {"to_officer": "spec-tax-1", "reason": "街道无专员，直接派税务"},
                           headers=routing.supervisor_auth("changbai")))
    assert (view["state"], view["officer_id"], view["rule"]) == ("assigned", "spec-tax-1", "supervisor_assignment")
    [(type_, data)] = routing.outbox()
    assert type_ == "yangpu.demand.assigned.v1"
    assert (data["officer_id"], data["rule"], data["actor_id"]) == (
        "spec-tax-1", "supervisor_assignment", "sup-changbai")
    assert routing.officer("spec-tax-1").open_count == 1


def test_resolve_frees_capacity(routing, held):
    view = _ok(routing.act(held, "resolve", RESOLVE))
    assert (view["state"], view["outcome"]) == ("resolved", "resolved")
    data = _one_event(routing, "resolve")
    assert (data["outcome"], data["note"]) == ("resolved", RESOLVE["note"])
    assert routing.officer(OFFICER_1).open_count == 0


def test_escalate_flags_it_for_the_street_supervisor(routing, held):
    view = _ok(routing.act(held, "escalate", {"reason": "涉及多部门，需要协调"}))
    assert (view["state"], view["officer_id"], view["escalated"], view["escalated_to"]) == (
        "assigned", OFFICER_1, True, "sup-wujiaochang")
    data = _one_event(routing, "escalate")
    assert (data["to_officer_id"], data["automatic"], data["reason"]) == (
        "sup-wujiaochang", False, "涉及多部门，需要协调")
    queue = routing.client.get("/api/v1/streets/wujiaochang/queue?kind=escalated",
                               headers=routing.supervisor_auth()).get_json()
    assert [i["demand_id"] for i in queue["items"]] == [held]


def test_feedback_satisfied(routing, held):
    _drive(routing, held, *RESOLVED)
    view = _ok(routing.act(held, "feedback", {"satisfaction": "basically_satisfied"}, headers=_voice(routing)))
    assert (view["state"], view["satisfaction"]) == ("feedback_received", "basically_satisfied")
    assert _one_event(routing, "feedback")["satisfaction"] == "basically_satisfied"


def test_feedback_unsatisfied_reopens_to_the_same_officer(routing, held):
    _drive(routing, held, *RESOLVED)
    assert routing.officer(OFFICER_1).open_count == 0
    view = _ok(routing.act(held, "feedback", {"satisfaction": "unsatisfied"}, headers=_voice(routing)))
    assert (view["state"], view["officer_id"], view["reopen_count"], view["outcome"]) == (
        "acknowledged", OFFICER_1, 1, None)
    assert [t for t, _ in routing.outbox()] == [EVENT_TYPES["feedback"], EVENT_TYPES["reopen"]]
    assert routing.officer(OFFICER_1).open_count == 1
    queue = routing.client.get("/api/v1/queue", headers=routing.officer_auth()).get_json()
    assert [i["demand_id"] for i in queue["items"]] == [held]


def test_close(routing, held):
    _drive(routing, held, *RATED)
    view = _ok(routing.act(held, "close"))
    assert view["state"] == "closed"
    assert _one_event(routing, "close")["outcome"] == "resolved"
    assert routing.officer(OFFICER_1).open_count == 0


def test_supervisor_of_the_street_may_act_on_any_of_its_demands(routing, held):
    assert _ok(routing.act(held, "acknowledge", headers=routing.supervisor_auth()))["state"] == "acknowledged"
    assert _one_event(routing, "acknowledge")["actor_id"] == "sup-wujiaochang"


def test_open_count_stays_right_across_a_whole_life(routing, held):
    steps = [("acknowledge", {}, 1), ("transfer", {"to_officer": OFFICER_2, "reason": "换人"}, 0),
             ("resolve", RESOLVE, 0), ("feedback", {"satisfaction": "unsatisfied"}, 0),
             ("resolve", RESOLVE, 0), ("close", {}, 0)]
    for action, body, expected_com1 in steps:  # the enterprise's verdict is recorded by a grid worker
        voice = routing.auth("grid_worker", "gw-1", "wujiaochang") if action == "feedback" else None
        _ok(routing.act(held, action, body, headers=voice or routing.supervisor_auth()))
        assert routing.officer(OFFICER_1).open_count == expected_com1
    assert routing.officer(OFFICER_2).open_count == 0
    assert routing.assignment(held).is_open is False


# --- refusals: each changes nothing ----------------------------------------------------------------


def _refused(routing, demand_id: str, status: int, *args, **kwargs) -> dict:
    before = routing.assignment(demand_id)
    loads = {o: routing.officer(o).open_count for o in (OFFICER_1, OFFICER_2, "spec-tax-1")}
    resp = routing.act(demand_id, *args, **kwargs)
    assert resp.status_code == status, resp.get_json()
    after = routing.assignment(demand_id)
    assert (after.state, after.officer_id, after.escalated, after.updated_at) == (
        before.state, before.officer_id, before.escalated, before.updated_at)
    assert {o: routing.officer(o).open_count for o in loads} == loads
    assert routing.outbox_count() == 0
    return resp.get_json()


INVALID = [
    ([], "materials-received", {}), ([], "request-materials", {"note": "营业执照"}),
    ([], "feedback", {"satisfaction": "satisfied"}),
    ([], "close", {}), (ACKED, "acknowledge", {}), (AWAITING, "request-materials", {"note": "营业执照"}),
    (RESOLVED, "resolve", RESOLVE), (RESOLVED, "transfer", {"to_officer": OFFICER_2, "reason": "x"}),
    (RESOLVED, "escalate", {"reason": "x"}), (RATED, "feedback", {"satisfaction": "unsatisfied"}),
    (CLOSED, "close", {}), (CLOSED, "acknowledge", {}),
]


@pytest.mark.parametrize("steps, action, body", INVALID)
def test_invalid_transition_is_409_naming_the_state(routing, held, steps, action, body):
    _drive(routing, held, *steps)
    state = routing.assignment(held).state
    error = _refused(routing, held, 409, action, body, headers=_voice(routing) if action == "feedback" else None)
    assert error["code"] == "conflict" and f"is {state}" in error["message"]


def test_escalating_twice_is_409(routing, held):
    _drive(routing, held, ("escalate", {"reason": "急"}))
    assert "already escalated" in _refused(routing, held, 409, "escalate", {"reason": "再急"})["message"]


@pytest.mark.parametrize("who", ["another officer", "supervisor elsewhere", "grid worker", "admin", "nobody"])
def test_only_the_holder_or_the_streets_supervisor_may_act(routing, held, who):
    headers = {
        "another officer": routing.officer_auth(OFFICER_2),
        "supervisor elsewhere": routing.supervisor_auth("changbai"),
        "grid worker": routing.auth("grid_worker", "gw-1", "wujiaochang"),
        "admin": routing.auth("admin", "admin-1"),
        "nobody": {},
    }[who]
    _refused(routing, held, 401 if who == "nobody" else 403, "acknowledge", headers=headers)


def test_an_officer_cannot_take_from_the_unassigned_queue(routing):
    demand_id = routing.submit(street="changbai")
    routing.clear_outbox()
    _refused(routing, demand_id, 403, "transfer", {"to_officer": OFFICER_1, "reason": "我来"},
             headers=routing.officer_auth(OFFICER_1))


@pytest.mark.parametrize("action, body, field", [
    ("resolve", {"outcome": "done", "note": "x"}, "outcome"),
    ("resolve", {"outcome": "resolved"}, "note"),
    ("feedback", {"satisfaction": "meh"}, "satisfaction"),
    ("escalate", {}, "reason"),
    ("transfer", {"reason": "x"}, "to_officer"),
    ("transfer", {"to_officer": OFFICER_2, "to_department": "tax", "reason": "x"}, "to_officer"),
    ("transfer", {"to_department": "weather", "reason": "x"}, "to_department"),
    ("transfer", {"to_officer": OFFICER_2}, "reason"),
    ("transfer", {"to_officer": "com-nobody", "reason": "x"}, "to_officer"),
    ("transfer", {"to_officer": OFFICER_1, "reason": "x"}, "to_officer"),
])
def test_bad_input_is_422_with_the_field(routing, held, action, body, field):
    error = _refused(routing, held, 422, action, body, headers=_voice(routing) if action == "feedback" else None)
    assert field in error["errors"], error


def test_transfer_to_an_officer_without_room_is_409(routing, held):
    routing.submit()  # com-2: 1 of 2
    _ok(routing.act(held, "transfer", {"to_officer": OFFICER_2, "reason": "x"}))  # com-2: 2 of 2, com-1: 0
    routing.submit()
    routing.submit()  # com-1: 2 of 2
    assert routing.officer(OFFICER_1).open_count == 2
    routing.clear_outbox()
    assert "at capacity" in _refused(routing, held, 409, "transfer", {"to_officer": OFFICER_1, "reason": "x"},
                                     headers=routing.officer_auth(OFFICER_2))["message"]


def test_transfer_to_an_officer_off_duty_is_409(routing, held):
    routing.client.post(f"/api/v1/officers/{OFFICER_2}/off-duty", headers=routing.auth("admin", "a"))
    assert "off duty" in _refused(routing, held, 409, "transfer", {"to_officer": OFFICER_2, "reason": "x"})["message"]


def test_transfer_to_a_department_without_room_is_409(routing, held):
    routing.submit(channel="hotline_12345")
    routing.submit(channel="hotline_12345")  # both tax specialists full
    routing.clear_outbox()
    _refused(routing, held, 409, "transfer", {"to_department": "tax", "reason": "x"})


def test_unknown_demand_is_404(routing):
    resp = routing.act("no-such-demand", "acknowledge")
    assert resp.status_code == 404 and routing.outbox_count() == 0


def test_an_action_without_fields_needs_no_body(routing, held):
    resp = routing.client.post(f"/api/v1/demands/{held}/acknowledge", headers=routing.officer_auth())
    assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("channel, expected", [("online_helpdesk", 200), ("grid", 403), ("hotline_12345", 403)])
def test_the_help_desk_gives_an_online_demand_its_first_answer_and_nothing_else(routing, channel, expected):
    demand_id = routing.submit(channel=channel)
    agent = routing.auth("helpdesk_agent", "hd-1")
    _refused(routing, demand_id, 403, "escalate", headers=agent)  # its first answer only
    if expected == 200:
        assert _ok(routing.act(demand_id, "acknowledge", headers=agent))["state"] == "acknowledged"
        assert _one_event(routing, "acknowledge")["actor_id"] == "hd-1"
    else:
        _refused(routing, demand_id, expected, "acknowledge", headers=agent)
