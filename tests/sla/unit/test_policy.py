"""SLA policy loading and the pure clock model (acceptance tests of the SLA issue).

Calendar facts used (chinesecalendar 1.11.0): March 2026 has no holidays (03-02 is a Monday);
National Day 2026 is 10-01..10-07 off with Saturday 10-10 a make-up workday.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import SHANGHAI, BusinessCalendar
from shared.contracts.vocabulary import CHANNELS, COMPLEXITIES
from sla_service.domain.clock import Clock
from sla_service.domain.policy import PolicyError, SlaPolicy
from sla_service.reference import load_policy
from tests.helpers import refusal

HOUR = 3600
DAY = 28_800
SHIPPED_POLICY = Path(__file__).resolve().parents[3] / "deploy" / "sla_policy.yaml"


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


# ---------------------------------------------------------------- policy


def test_policy_defaults():
    policy = load_policy(SHIPPED_POLICY)
    assert policy.first_response_seconds("online_helpdesk") == 60
    for channel in ("grid", "hotline_12345", "fallback_window", "walk_in"):
        assert policy.first_response_seconds(channel) == 28_800
    assert policy.resolution_seconds("simple") == 5 * 28_800 == 144_000
    assert policy.resolution_seconds("complex") == 10 * 28_800 == 288_000
    assert policy.resolution_seconds("difficult") == 30 * 28_800 == 864_000
    assert policy.warning_fraction == 0.8
    as_dict = policy.to_dict()
    assert as_dict["first_response_seconds"] == {c: policy.first_response_seconds(c) for c in CHANNELS}
    assert as_dict["resolution_seconds"] == {c: policy.resolution_seconds(c) for c in COMPLEXITIES}
    assert as_dict["warning_fraction"] == 0.8
    with pytest.raises(PolicyError, match="fax"):
        policy.first_response_seconds("fax")


def test_policy_follows_the_working_day_length():
    policy = load_policy(SHIPPED_POLICY, seconds_per_working_day=3600)
    assert policy.resolution_seconds("difficult") == 30 * 3600
    assert policy.first_response_seconds("online_helpdesk") == 60


GOOD = {
    "warning_fraction": "0.8",
    "first_response": "{default: {working_days: 1}, online_helpdesk: {business_seconds: 60}}",
    "resolution": "{simple: {working_days: 5}, complex: {working_days: 10}, difficult: {working_days: 30}}",
}


def policy_text(**changes: str | None) -> str:
    merged = {**GOOD, **changes}
    return "".join(f"{k}: {v}\n" for k, v in merged.items() if v is not None)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        (policy_text(warning_fraction="1.5"), "warning_fraction"),
        (policy_text(warning_fraction="yes"), "warning_fraction"),
        (policy_text(warning_fraction=None), "warning_fraction"),
        (policy_text(resolution=None), "resolution"),
        (policy_text(escalation="{}"), "escalation"),
        (policy_text(first_response="{fax: {business_seconds: 60}, default: {working_days: 1}}"),
         "first_response.fax"),
        (policy_text(first_response="{online_helpdesk: {business_seconds: 60}}"), "first_response.grid"),
        (policy_text(first_response="{default: {working_days: -1}}"), "first_response.default.working_days"),
        (policy_text(first_response="{default: {hours: 8}}"), "first_response.default.hours"),
        (policy_text(first_response="{default: 28800}"), "first_response.default"),
        (policy_text(first_response="{default: {business_seconds: 1.5}}"), "first_response.default"),
        (policy_text(resolution="{simple: {working_days: 5}, complex: {working_days: 10}}"),
         "resolution.difficult"),
        (policy_text(resolution="{simple: {working_days: 5, business_seconds: 60}}"), "resolution.simple"),
        ("- just a list\n", "top level"),
        ("resolution: [unclosed\n", "cannot read"),
    ],
)
def test_malformed_policy_names_file_and_key(tmp_path, content, names):
    assert names in refusal(load_policy, PolicyError, tmp_path / "sla_policy.yaml", content)


def test_missing_policy_file_is_an_error(tmp_path):
    with pytest.raises(PolicyError, match="absent.yaml"):
        load_policy(tmp_path / "absent.yaml")


def test_good_variant_with_fractional_days(tmp_path):
    path = tmp_path / "sla_policy.yaml"
    path.write_text(policy_text(first_response="{default: {working_days: 0.5}}"), encoding="utf-8")
    assert load_policy(path).first_response_seconds("grid") == 14_400


def test_policy_object_validates_itself():
    with pytest.raises(PolicyError, match="resolution.difficult"):
        SlaPolicy({c: 60 for c in CHANNELS}, {"simple": 1, "complex": 2})


# ---------------------------------------------------------------- clock


def test_clock_starts_at_next_business_instant(cal):
    # reported Saturday 2026-03-14 10:00 -> starts Monday 03-16 09:00
    clock = Clock.start("first_response", DAY, sh(2026, 3, 14, 10), cal)
    assert clock.started_at == sh(2026, 3, 16, 9)
    assert clock.running_since == clock.started_at
    assert clock.status == "running"
    # one working day from Monday 09:00 -> Monday 17:00; warning at 80 % = 6.4 h -> 15:24
    assert clock.target_at(cal) == sh(2026, 3, 16, 17)
    assert clock.warning_at(cal, 0.8) == sh(2026, 3, 16, 15, 24)
    assert clock.next_fire_at(cal, 0.8) == sh(2026, 3, 16, 15, 24)


def test_first_response_online_helpdesk_breach_and_events(cal):
    clock = Clock.start("first_response", 60, sh(2026, 3, 17, 10), cal)
    assert clock.target_at(cal) == sh(2026, 3, 17, 10, 1)
    assert clock.warning_at(cal, 0.8) == sh(2026, 3, 17, 10, 0, 48)
    assert clock.due_events(sh(2026, 3, 17, 10, 0, 47), cal, 0.8) == []
    assert clock.due_events(sh(2026, 3, 17, 10, 0, 48), cal, 0.8) == ["warning"]
    assert clock.due_events(sh(2026, 3, 17, 10, 0, 59), cal, 0.8) == []  # warned once only
    assert clock.next_fire_at(cal, 0.8) == sh(2026, 3, 17, 10, 1)
    assert clock.due_events(sh(2026, 3, 17, 10, 1), cal, 0.8) == ["breached"]
    assert clock.status == "breached"
    assert clock.running_since is not None  # breached but still running
    assert clock.due_events(sh(2026, 3, 17, 11), cal, 0.8) == []  # breached once only
    assert clock.next_fire_at(cal, 0.8) is None
    clock.stop(sh(2026, 3, 17, 11), cal)  # the late acknowledgement
    assert clock.status == "breached"
    assert clock.stopped_at == sh(2026, 3, 17, 11)
    assert clock.business_seconds_used == HOUR


def test_first_response_met_and_idempotent(cal):
    clock = Clock.start("first_response", DAY, sh(2026, 3, 17, 10), cal)
    assert clock.stop(sh(2026, 3, 17, 16), cal)
    assert clock.status == "met"
    assert clock.business_seconds_used == 6 * HOUR
    assert not clock.stop(sh(2026, 3, 18, 16), cal)  # second acknowledgement: no-op
    assert clock.stopped_at == sh(2026, 3, 17, 16)
    assert not clock.pause(sh(2026, 3, 18, 9), cal)
    assert not clock.reopen(sh(2026, 3, 18, 9), cal)  # first response is never reopened
    assert clock.status == "met"
    assert clock.target_at(cal) is None and clock.next_fire_at(cal) is None
    assert clock.due_events(sh(2026, 4, 1, 9), cal) == []


def test_stop_exactly_at_target_is_breached(cal):
    clock = Clock.start("first_response", HOUR, sh(2026, 3, 17, 16), cal)
    assert clock.target_at(cal) == sh(2026, 3, 17, 17)  # lands on the close, stays that day
    clock.stop(sh(2026, 3, 17, 17), cal)
    assert clock.status == "breached"


def test_stop_after_a_late_timer_still_reports_the_breach_once(cal):
    clock = Clock.start("first_response", HOUR, sh(2026, 3, 17, 10), cal)
    clock.stop(sh(2026, 3, 17, 12), cal)  # the timer never fired
    assert clock.status == "breached"
    assert clock.due_events(sh(2026, 3, 17, 12), cal) == ["breached"]
    assert clock.due_events(sh(2026, 3, 17, 12), cal) == []


def test_pause_spanning_a_holiday(cal):
    # Simple demand (5 working days), clock started Tue 2026-09-29 09:00.
    clock = Clock.start("resolution", 5 * DAY, sh(2026, 9, 29, 9), cal)
    # Without a pause: 09-29, 09-30, 10-08, 10-09, 10-10 (make-up Saturday) -> 10-10 17:00.
    assert clock.target_at(cal) == sh(2026, 10, 10, 17)
    # Awaiting materials from Wed 09-30 12:00: used = 8 h (09-29) + 3 h (09-30) = 11 h.
    assert clock.pause(sh(2026, 9, 30, 12), cal)
    assert clock.status == "paused"
    assert clock.business_seconds_used == 11 * HOUR
    assert clock.target_at(cal) is None and clock.next_fire_at(cal) is None
    assert not clock.pause(sh(2026, 10, 8, 9), cal)  # already paused: no-op
    assert clock.used_at(sh(2026, 10, 9, 9), cal) == 11 * HOUR  # frozen over the holiday
    # Materials arrive Fri 10-09 10:00. 40 h - 11 h = 29 h left:
    #   10-09 10:00-17:00 7 h (22 left); 10-10 Sat make-up 8 h (14 left); 10-11 Sun off;
    #   10-12 Mon 8 h (6 left); 10-13 Tue 09:00 + 6 h = 15:00.
    assert clock.resume(sh(2026, 10, 9, 10), cal)
    assert clock.status == "running"
    assert not clock.resume(sh(2026, 10, 9, 11), cal)  # already running: no-op
    assert clock.target_at(cal) == sh(2026, 10, 13, 15)
    # warning at 32 h: 21 h after resume -> 7 (10-09) + 8 (10-10) + 6 -> Mon 10-12 15:00
    assert clock.warning_at(cal, 0.8) == sh(2026, 10, 12, 15)
    clock.stop(sh(2026, 10, 13, 14), cal)
    assert clock.status == "met"
    assert clock.business_seconds_used == 40 * HOUR - HOUR


def test_first_response_clock_does_not_pause(cal):
    clock = Clock.start("first_response", DAY, sh(2026, 3, 17, 10), cal)
    assert not clock.pause(sh(2026, 3, 17, 11), cal)
    assert clock.status == "running" and clock.target_at(cal) == sh(2026, 3, 18, 10)


def test_reopen_resumes_from_time_already_used(cal):
    # Simple demand (5 working days = 40 h) started Mon 2026-03-02 09:00.
    clock = Clock.start("resolution", 5 * DAY, sh(2026, 3, 2, 9), cal)
    # Resolved Tue 03-03 13:00: used 8 h + 4 h = 12 h -> met.
    clock.stop(sh(2026, 3, 3, 13), cal)
    assert clock.status == "met" and clock.business_seconds_used == 12 * HOUR
    assert not clock.resume(sh(2026, 3, 4, 9), cal)  # resume does not reopen
    # Reopened Thu 03-05 10:00 (Tue 13:00 .. Thu 10:00 resolved: does not count).
    assert clock.reopen(sh(2026, 3, 5, 10), cal)
    assert not clock.reopen(sh(2026, 3, 5, 11), cal)  # already open: no-op
    assert clock.status == "running" and clock.stopped_at is None
    # 28 h left: 03-05 7 h (21); 03-06 8 h (13); 03-09 Mon 8 h (5); 03-10 Tue 09:00 + 5 h = 14:00.
    assert clock.target_at(cal) == sh(2026, 3, 10, 14)
    # warning at 32 h, i.e. 20 h after reopen: 7 + 8 + 5 -> Mon 03-09 14:00.
    assert clock.warning_at(cal, 0.8) == sh(2026, 3, 9, 14)
    assert clock.due_events(sh(2026, 3, 9, 13, 59), cal, 0.8) == []
    assert clock.due_events(sh(2026, 3, 9, 14), cal, 0.8) == ["warning"]
    assert clock.next_fire_at(cal, 0.8) == sh(2026, 3, 10, 14)
    # a reopened met clock can still breach
    assert clock.due_events(sh(2026, 3, 10, 14), cal, 0.8) == ["breached"]
    assert clock.status == "breached"
    clock.stop(sh(2026, 3, 10, 15), cal)
    assert clock.status == "breached" and clock.stopped_at == sh(2026, 3, 10, 15)
    # reopening a breached clock keeps it breached and emits nothing again
    clock.reopen(sh(2026, 3, 11, 9), cal)
    assert clock.status == "breached" and clock.running_since == sh(2026, 3, 11, 9)
    assert clock.due_events(sh(2026, 3, 20, 9), cal, 0.8) == []
    assert clock.next_fire_at(cal, 0.8) is None


def test_paused_breached_clock_stays_breached(cal):
    clock = Clock.start("resolution", HOUR, sh(2026, 3, 17, 9), cal)
    assert clock.due_events(sh(2026, 3, 17, 11), cal) == ["warning", "breached"]  # late timer
    clock.pause(sh(2026, 3, 17, 12), cal)
    assert clock.status == "breached"
    clock.resume(sh(2026, 3, 18, 9), cal)
    assert clock.status == "breached" and clock.running_since == sh(2026, 3, 18, 9)


def test_clock_survives_2027(cal):
    # Difficult demand reported 2026-12-15: the deadline is in 2027 (fallback), no crash.
    clock = Clock.start("resolution", 30 * DAY, sh(2026, 12, 15, 9), cal)
    assert clock.target_at(cal) == sh(2027, 1, 26, 17)  # worked out in test_calendar.py


def test_bad_clock_arguments(cal):
    with pytest.raises(ValueError):
        Clock.start("lunch", 60, sh(2026, 3, 17, 9), cal)
    with pytest.raises(ValueError):
        Clock.start("resolution", 0, sh(2026, 3, 17, 9), cal)
    with pytest.raises(ValueError, match="naive"):
        Clock.start("resolution", 60, datetime(2026, 3, 17, 9), cal)


# ---------------------------------------------------------------- properties

INSTANTS = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 12, 31)).map(
    lambda t: t.replace(tzinfo=SHANGHAI)
)
TARGETS = st.integers(min_value=1, max_value=30 * DAY)
OFFSETS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=40))


@settings(max_examples=100, deadline=None)
@given(reported=INSTANTS, a=TARGETS, b=TARGETS, used=st.integers(min_value=0, max_value=20 * DAY))
def test_target_at_is_monotonic_in_the_target(cal, reported, a, b, used):
    small, big = sorted((a, b))
    c1 = Clock.start("resolution", small, reported, cal)
    c2 = Clock.start("resolution", big, reported, cal)
    c1.business_seconds_used = c2.business_seconds_used = used  # e.g. after a reopen
    assert c1.target_at(cal) <= c2.target_at(cal)
    assert c1.warning_at(cal, 0.8) <= c2.warning_at(cal, 0.8)


@settings(max_examples=100, deadline=None)
@given(reported=INSTANTS, target=TARGETS, pause_after=OFFSETS, pause_for=OFFSETS)
def test_pausing_never_moves_a_deadline_earlier(cal, reported, target, pause_after, pause_for):
    plain = Clock.start("resolution", target, reported, cal)
    paused = Clock.start("resolution", target, reported, cal)
    pause_at = paused.started_at + pause_after
    paused.pause(pause_at, cal)
    paused.resume(pause_at + pause_for, cal)
    assert paused.target_at(cal) >= plain.target_at(cal)
    assert paused.warning_at(cal, 0.8) >= plain.warning_at(cal, 0.8)
    # and the business time is conserved: used at the deadline is the target either way
    assert paused.used_at(paused.target_at(cal), cal) == pytest.approx(max(target, paused.business_seconds_used))
