"""Intake's pure rules, without Flask or a database."""

from __future__ import annotations

import pytest

from intake_service.policy import (
    Caller,
    DemandState,
    apply_event,
    enterprise_warnings,
    logging_refusal,
    may_read,
    open311_status,
    request_fingerprint,
    sees_phone,
)

FRESH = DemandState("submitted", None, None, None, None, False, "on_track")


def test_logging_rules():
    assert logging_refusal(Caller("g", "grid_worker", "dinghai"), "grid", "dinghai") is None
    assert "own street" in logging_refusal(Caller("g", "grid_worker", "dinghai"), "grid", "yinhang")
    assert "only on channel grid" in logging_refusal(Caller("g", "grid_worker", "dinghai"), "walk_in", "dinghai")
    assert logging_refusal(Caller("o", "officer", None), "walk_in", "yinhang") is None
    assert "may not log" in logging_refusal(Caller("a", "admin", None), "walk_in", "yinhang")


def test_reading_rules():
    assert may_read(Caller("o", "officer", None), "dinghai", "o", None, "x")
    assert may_read(Caller("o", "officer", None), "dinghai", None, "o", "x")
    assert may_read(Caller("o", "officer", None), "dinghai", None, None, "o")
    assert not may_read(Caller("o", "officer", None), "dinghai", "p", None, "x")
    assert may_read(Caller("o", "officer", "dinghai"), "dinghai", None, None, "x")
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
