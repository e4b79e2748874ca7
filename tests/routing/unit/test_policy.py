"""The routing rules and urgency as pure functions: one test (at least) per rule, duty hours, tie-breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from routing_service.domain.policy import (
    RULE_CHIEF,
    RULE_COMMISSIONER,
    RULE_FALLBACK,
    RULE_HOTLINE,
    RULE_UNASSIGNED,
    ClockView,
    DemandFacts,
    Duty,
    OfficerState,
    decide,
    escalation_target,
    next_due,
    parse_minutes,
    pick_specialist,
    relevant_officer_ids,
)

ALWAYS = Duty(frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"}), 0, 1440)
OFFICE = Duty(frozenset({"mon", "tue", "wed", "thu", "fri"}), 9 * 60, 17 * 60)
# Wednesday 2026-12-02 10:00 in Shanghai (02:00 UTC); Saturday 2026-12-05 10:00 in Shanghai.
WEDNESDAY_10 = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def officer(id_: str, kind: str = "street_commissioner", streets: tuple[str, ...] = ("wujiaochang",),
            skills: tuple[str, ...] = ("taxation",), capacity: int = 5, open_count: int = 0, seq: int = 0,
            department: str | None = None, on_duty: bool = True, duty: Duty = ALWAYS) -> OfficerState:
    return OfficerState(id=id_, kind=kind, streets=frozenset(streets), department=department,
                        skills=frozenset(skills), capacity=capacity, open_count=open_count, last_assigned_seq=seq,
                        on_duty=on_duty, duty=duty)


def roster(*officers: OfficerState) -> dict[str, OfficerState]:
    return {o.id: o for o in officers}


STREET = roster(
    officer("sup-wjc", kind="supervisor", skills=(), capacity=100),
    officer("cso-wjc", kind="chief_service_officer", capacity=2),
    officer("com-a"), officer("com-b"),
    officer("spec-tax", kind="department_specialist", streets=("*",), department="tax"),
    officer("spec-fin", kind="department_specialist", streets=("*",), department="finance_office",
            skills=("financing",)),
)
KEY = DemandFacts("wujiaochang", "grid", "taxation", key_enterprise=True, chief_officer_id="cso-wjc")
GRID = DemandFacts("wujiaochang", "grid", "taxation")


def with_(officers: dict[str, OfficerState], **changes: dict) -> dict[str, OfficerState]:
    return {**officers, **{i: replace(officers[i], **c) for i, c in changes.items()}}


# --- rule 1 ----------------------------------------------------------------------------------------


def test_rule_1_key_enterprise_goes_to_its_chief_officer() -> None:
    assert decide(KEY, STREET, WEDNESDAY_10) == decide(KEY, STREET, SATURDAY_10)
    decision = decide(KEY, STREET, SATURDAY_10)  # outside the chief's office hours: still theirs
    assert (decision.rule, decision.officer_id, decision.queue) == (RULE_CHIEF, "cso-wjc", "officer")


def test_rule_1_wins_over_the_channel_rules() -> None:
    for channel in ("fallback_window", "hotline_12345"):
        assert decide(replace(KEY, channel=channel), STREET, WEDNESDAY_10).rule == RULE_CHIEF


@pytest.mark.parametrize("change", [{"open_count": 2}, {"on_duty": False}])
def test_rule_1_falls_through_when_the_chief_cannot_take_it(change: dict) -> None:
    decision = decide(KEY, with_(STREET, **{"cso-wjc": change}), WEDNESDAY_10)
    assert decision.rule == RULE_COMMISSIONER


def test_rule_1_needs_both_a_key_enterprise_and_a_known_chief() -> None:
    assert decide(replace(KEY, key_enterprise=False), STREET, WEDNESDAY_10).rule == RULE_COMMISSIONER
    assert decide(replace(KEY, chief_officer_id=None), STREET, WEDNESDAY_10).rule == RULE_COMMISSIONER
    assert decide(replace(KEY, chief_officer_id="cso-gone"), STREET, WEDNESDAY_10).rule == RULE_COMMISSIONER


# --- rule 2 ----------------------------------------------------------------------------------------


def test_rule_2_fallback_window_goes_to_the_street_supervisor() -> None:
    decision = decide(replace(GRID, channel="fallback_window"), STREET, SATURDAY_10)
    assert (decision.rule, decision.officer_id) == (RULE_FALLBACK, "sup-wjc")


def test_rule_2_only_the_supervisor_of_that_street() -> None:
    officers = {**STREET, "sup-other": officer("sup-other", kind="supervisor", streets=("dinghai",))}
    officers = with_(officers, **{"sup-wjc": {"on_duty": False}})
    decision = decide(replace(GRID, channel="fallback_window"), officers, WEDNESDAY_10)
    assert decision.rule == RULE_COMMISSIONER  # falls through; never the other street's supervisor


# --- rule 3 ----------------------------------------------------------------------------------------


def test_rule_3_hotline_goes_to_a_specialist_of_the_categorys_department() -> None:
    decision = decide(replace(GRID, channel="hotline_12345"), STREET, WEDNESDAY_10)
    assert (decision.rule, decision.officer_id) == (RULE_HOTLINE, "spec-tax")
    financing = decide(replace(GRID, channel="hotline_12345", category="financing"), STREET, WEDNESDAY_10)
    assert financing.officer_id == "spec-fin"


def test_rule_3_least_loaded_specialist_first() -> None:
    officers = {**STREET, "spec-tax-2": officer("spec-tax-2", kind="department_specialist", streets=("*",),
                                                department="tax")}
    officers = with_(officers, **{"spec-tax": {"open_count": 3}})
    assert decide(replace(GRID, channel="hotline_12345"), officers, WEDNESDAY_10).officer_id == "spec-tax-2"


# --- rule 4 ----------------------------------------------------------------------------------------


def test_rule_4_commissioner_with_the_skill_least_loaded_first() -> None:
    officers = with_(STREET, **{"com-a": {"open_count": 2}, "com-b": {"open_count": 1}})
    decision = decide(GRID, officers, WEDNESDAY_10)
    assert (decision.rule, decision.officer_id) == (RULE_COMMISSIONER, "com-b")


def test_rule_4_round_robin_among_equally_loaded() -> None:
    officers = dict(STREET)
    chosen = []
    for _ in range(4):
        decision = decide(GRID, officers, WEDNESDAY_10)
        chosen.append(decision.officer_id)
        picked = officers[decision.officer_id]
        # the demand is resolved at once: loads stay equal, only the round-robin sequence moves
        officers[picked.id] = replace(picked, last_assigned_seq=decision.seq)
    assert chosen == ["com-a", "com-b", "com-a", "com-b"]


def test_rule_4_needs_the_skill_the_street_and_room() -> None:
    assert decide(replace(GRID, category="employment"), STREET, WEDNESDAY_10).rule == RULE_UNASSIGNED
    assert decide(replace(GRID, street="dinghai"), STREET, WEDNESDAY_10).rule == RULE_UNASSIGNED
    full = with_(STREET, **{"com-a": {"open_count": 5}})
    assert decide(GRID, full, WEDNESDAY_10).officer_id == "com-b"
    both_full = with_(full, **{"com-b": {"open_count": 5}})
    assert decide(GRID, both_full, WEDNESDAY_10).rule == RULE_UNASSIGNED


def test_rule_4_only_commissioners_on_shift_in_shanghai_time() -> None:
    officers = with_(STREET, **{"com-a": {"duty": OFFICE}, "com-b": {"duty": OFFICE}})
    assert decide(GRID, officers, WEDNESDAY_10).rule == RULE_COMMISSIONER
    assert decide(GRID, officers, SATURDAY_10).rule == RULE_UNASSIGNED
    # 17:00 Shanghai is 09:00 UTC: the shift's end is exclusive; 08:59:59 UTC is 16:59 in Shanghai
    assert decide(GRID, officers, WEDNESDAY_10.replace(hour=9)).rule == RULE_UNASSIGNED
    assert decide(GRID, officers, WEDNESDAY_10.replace(hour=8, minute=59, second=59)).rule == RULE_COMMISSIONER


def test_rule_4_skips_officers_switched_off_duty() -> None:
    assert decide(GRID, with_(STREET, **{"com-a": {"on_duty": False}}), WEDNESDAY_10).officer_id == "com-b"


# --- rule 5 ----------------------------------------------------------------------------------------


def test_rule_5_nobody_eligible_goes_to_the_unassigned_queue() -> None:
    decision = decide(DemandFacts("changbai", "grid", "taxation"), STREET, WEDNESDAY_10)
    assert (decision.rule, decision.officer_id, decision.queue) == (RULE_UNASSIGNED, None, "street_unassigned")


# --- helpers ---------------------------------------------------------------------------------------


def test_decisions_are_deterministic_for_the_same_state() -> None:
    shuffled = dict(reversed(list(STREET.items())))
    for demand in (KEY, GRID, replace(GRID, channel="hotline_12345"), replace(GRID, channel="fallback_window")):
        assert decide(demand, STREET, WEDNESDAY_10) == decide(demand, shuffled, WEDNESDAY_10)


def test_relevant_officers_are_every_candidate_of_every_rule_sorted() -> None:
    ids = relevant_officer_ids(replace(KEY, channel="hotline_12345"), STREET)
    assert ids == ["com-a", "com-b", "cso-wjc", "spec-tax"]
    assert relevant_officer_ids(replace(GRID, channel="fallback_window"), STREET) == ["com-a", "com-b", "sup-wjc"]


def test_pick_specialist_and_escalation_target() -> None:
    assert pick_specialist("tax", STREET).officer_id == "spec-tax"
    assert pick_specialist("tax", with_(STREET, **{"spec-tax": {"open_count": 5}})) is None
    assert escalation_target("wujiaochang", STREET) == "sup-wjc"
    assert escalation_target("changbai", STREET) is None


@pytest.mark.parametrize("raw, minutes", [("00:00", 0), ("09:30", 570), ("24:00", 1440)])
def test_parse_minutes(raw: str, minutes: int) -> None:
    assert parse_minutes(raw) == minutes


@pytest.mark.parametrize("raw", ["9:30", "24:01", "12:60", "noon", "1230"])
def test_parse_minutes_refuses_bad_times(raw: str) -> None:
    with pytest.raises(ValueError):
        parse_minutes(raw)


# --- urgency ---------------------------------------------------------------------------------------


def _clock(kind: str, status: str, minutes: int | None) -> ClockView:
    target = WEDNESDAY_10 + timedelta(minutes=minutes) if minutes is not None else None
    return ClockView(kind, status, target, 0.0, 28_800)


def test_next_due_is_the_nearest_running_deadline() -> None:
    clocks = [_clock("first_response", "running", 60), _clock("resolution", "running", 600)]
    assert next_due("assigned", clocks) == WEDNESDAY_10 + timedelta(minutes=60)
    # acknowledged: the first response is done, the resolution deadline remains
    assert next_due("acknowledged", clocks) == WEDNESDAY_10 + timedelta(minutes=600)
    assert next_due("resolved", clocks) is None


def test_next_due_counts_breached_running_clocks_and_skips_paused_or_stopped_ones() -> None:
    assert next_due("acknowledged", [_clock("resolution", "breached", -5)]) == WEDNESDAY_10 - timedelta(minutes=5)
    assert next_due("awaiting_materials", [_clock("resolution", "paused", 30)]) is None
    assert next_due("assigned", [_clock("first_response", "met", 30)]) is None


def test_seconds_left_is_wall_clock_to_target() -> None:
    assert _clock("resolution", "running", 10).seconds_left(WEDNESDAY_10) == 600
    assert _clock("resolution", "breached", -1).seconds_left(WEDNESDAY_10) == -60
    assert _clock("resolution", "paused", 10).seconds_left(WEDNESDAY_10) is None
