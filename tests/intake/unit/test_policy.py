"""Intake's pure rules, without Flask or a database."""

from __future__ import annotations

import pytest

from intake_service.domain.policy import (
    MAX_RESEND_GAP,
    Caller,
    DemandState,
    apply_event,
    enterprise_warnings,
    is_demand_id,
    logging_refusal,
    may_read,
    open311_status,
    request_fingerprint,
    resend_gap,
    sees_phone,
)

FRESH = DemandState("submitted", None, None, None, None, False, "on_track")


def test_logging_rules():
    assert logging_refusal(Caller("g", "grid_worker", "dinghai"), "grid", "dinghai") is None
    assert "own street" in logging_refusal(Caller("g", "grid_worker", "dinghai"), "grid", "yinhang")
    assert "only on channel grid" in logging_refusal(Caller("g", "grid_worker", "dinghai"), "walk_in", "dinghai")
    # window demands: an officer in the streets the roster gives them (not their token's), a supervisor in theirs
    yinhang = frozenset({"yinhang"})
    assert logging_refusal(Caller("o", "officer", None, "street_commissioner", yinhang), "walk_in", "yinhang") is None
    assert "streets they serve" in logging_refusal(Caller("o", "officer", "dinghai"), "walk_in", "dinghai")
    assert logging_refusal(Caller("o", "officer", None, "department_specialist", frozenset({"*"})),
                           "fallback_window", "dinghai") is None
    assert logging_refusal(Caller("s", "supervisor", "yinhang"), "fallback_window", "yinhang") is None
    assert "own street" in logging_refusal(Caller("s", "supervisor", "yinhang"), "walk_in", "dinghai")
    assert "may not log" in logging_refusal(Caller("a", "admin", None), "walk_in", "yinhang")


def test_reading_rules():
    assert may_read(Caller("o", "officer", None), "dinghai", "o", None, "x")
    assert may_read(Caller("o", "officer", None), "dinghai", None, "o", "x")
    assert may_read(Caller("o", "officer", None), "dinghai", None, None, "o")
    assert not may_read(Caller("o", "officer", None), "dinghai", "p", None, "x")
    # the token's street claim widens nothing (it was the bug); a commissioner reads the roster's streets
    assert not may_read(Caller("o", "officer", "dinghai"), "dinghai", None, None, "x")
    assert may_read(Caller("o", "officer", None, "street_commissioner", frozenset({"dinghai"})), "dinghai", None,
                    None, "x")
    assert not may_read(Caller("o", "officer", None, "chief_service_officer", frozenset({"dinghai"})), "dinghai",
                        None, None, "x")
    assert may_read(Caller("s", "supervisor", "dinghai"), "dinghai", "s", None, "x")
    assert may_read(Caller("s", "supervisor", "yinhang"), "dinghai", "s", None, "x")  # whoever holds it
    assert not may_read(Caller("s", "supervisor", "yinhang"), "dinghai", None, None, "x")
    assert may_read(Caller("h", "hotline_agent", None), "dinghai", None, None, "x")


def test_phone_rules():
    assert sees_phone(Caller("o", "officer", None), "dinghai", "o")
    assert not sees_phone(Caller("o", "officer", "dinghai"), "dinghai", None)
    assert sees_phone(Caller("s", "supervisor", "dinghai"), "dinghai", None)
    assert not sees_phone(Caller("s", "supervisor", "yinhang"), "dinghai", None)
    assert not sees_phone(Caller("a", "admin", None), "dinghai", None)


def test_an_unassigned_queue_and_a_department_transfer():
    state = apply_event(FRESH, "assigned", {"officer_id": None, "department": None})
    assert (state.status, state.assignee_id) == ("unassigned", None)
    state = apply_event(state, "transferred", {"to_officer_id": None, "to_department": "tax"})
    assert (state.status, state.assignee_id, state.department) == ("transferred", None, "tax")


def test_a_warning_never_downgrades_a_breach():
    state = apply_event(FRESH, "sla_breached", {})
    assert apply_event(state, "sla_warning", {}).sla_status == "breached"


@pytest.mark.parametrize(("status", "expected"), [("resolved", "closed"), ("closed", "closed"),
                                                   ("reopened", "open"), ("submitted", "open")])
def test_open311_statuses(status, expected):
    assert open311_status(status) == expected


def test_registry_warnings():
    assert enterprise_warnings("上海甲（集团）有限公司", "dinghai", "上海甲(集团)有限公司", "dinghai") == {}
    assert enterprise_warnings(None, "dinghai", "甲", "yinhang") == {
        "street": ["the registry places this enterprise in street yinhang, not dinghai"]}
    assert list(enterprise_warnings("乙", "dinghai", "甲", "dinghai")) == ["enterprise.name"]


def test_fingerprints_ignore_key_order_only():
    assert request_fingerprint({"a": 1, "b": 2}) == request_fingerprint({"b": 2, "a": 1})
    assert request_fingerprint({"a": 1}) != request_fingerprint({"a": 2})


def test_demand_ids_are_lower_case_uuids():
    assert is_demand_id("0b7f6c1e-2a3d-4e5f-8a9b-0c1d2e3f4a5b")
    assert not is_demand_id("0B7F6C1E-2A3D-4E5F-8A9B-0C1D2E3F4A5B")
    assert not is_demand_id("1; DROP TABLE demands")


def test_the_resend_gap_doubles_from_the_age_and_is_capped_at_an_hour():
    after_s = 60
    assert [resend_gap(n, after_s).total_seconds() for n in range(1, 8)] == [120, 240, 480, 960, 1920, 3600, 3600]
    assert resend_gap(10_000, after_s) == MAX_RESEND_GAP  # a demand stuck for a year does not overflow
