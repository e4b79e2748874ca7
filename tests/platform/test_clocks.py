"""Countdowns in business time (shared.webkit.pages.clocks): time left, urgency, wording, the working window."""

from __future__ import annotations

from datetime import datetime

import pytest

from shared.calendar import SHANGHAI, BusinessCalendar
from shared.config import PROJECT_ROOT
from shared.webkit.pages.clocks import (
    amount,
    business_left,
    deadline_parts,
    deadline_text,
    face,
    urgency,
    working_window,
)

DAY = 28_800


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar(PROJECT_ROOT / "deploy" / "calendar_overrides.yaml")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def running(target_at: str, target: int = 5 * DAY, used: float = 0.0) -> dict:
    return {"kind": "resolution", "status": "running", "target_at": at(target_at).isoformat(),
            "business_seconds_used": used, "business_seconds_target": target, "seconds_left": 1.0}


def test_left_is_business_time_not_wall_clock(cal: BusinessCalendar) -> None:
    # Friday 16:00 to Monday 10:00: 2 working hours, not 66 wall-clock hours.
    assert business_left(running("2026-12-07T10:00"), at("2026-12-04T16:00"), cal) == 2 * 3600


def test_left_is_negative_once_past_and_none_once_met(cal: BusinessCalendar) -> None:
    assert business_left(running("2026-12-04T16:00"), at("2026-12-07T10:00"), cal) == -2 * 3600
    assert business_left({"status": "met", "business_seconds_target": DAY}, at("2026-12-07T10:00"), cal) is None


def test_a_paused_clock_keeps_what_was_left(cal: BusinessCalendar) -> None:
    c = {"kind": "resolution", "status": "paused", "target_at": None, "business_seconds_used": 1.5 * DAY,
         "business_seconds_target": 5 * DAY}
    assert business_left(c, at("2026-12-07T10:00"), cal) == 3.5 * DAY


@pytest.mark.parametrize(("seconds", "seconds_only", "expected"), [
    (1.5 * DAY, False, ("days", "1.5")),
    (1.59 * DAY, False, ("days", "1.5")),  # rounded down: never more than is left
    (DAY, False, ("days", "1")),
    (5 * DAY, False, ("days", "5")),
    (DAY - 1, False, ("hm", "7:59")),
    (3 * 3600 + 20 * 60 + 59, False, ("hm", "3:20")),
    (3599, False, ("ms", "59:59")),
    (65.7, False, ("ms", "01:05")),
    (-(2 * 3600 + 60), False, ("hm", "2:01")),
    (45.9, True, ("s", "45")),
    (-12, True, ("s", "12")),
])
def test_amount(seconds: float, seconds_only: bool, expected: tuple[str, str]) -> None:
    assert amount(seconds, DAY, seconds_only) == expected


def test_urgency_by_business_time() -> None:
    target = 5 * DAY
    assert urgency(0.21 * target, target, "running") == "ok"
    assert urgency(0.19 * target, target, "running") == "soon"
    assert urgency(0.3 * target, target, "running", warning_fraction=0.6) == "soon"
    assert urgency(-1, target, "running") == "overdue"
    assert urgency(10, target, "breached") == "overdue"
    assert urgency(10, target, "paused") == "idle"
    assert urgency(None, target, "met") == "idle"


def test_three_working_hours_of_five_days_is_due_soon_however_many_wall_days(cal: BusinessCalendar) -> None:
    # Friday 14:00, due Monday 09:00 + 0 h: 3 working hours left, 67 wall-clock hours.
    f = face(running("2026-12-07T09:00"), at("2026-12-04T14:00"), cal)
    assert (f.left, f.urgency, f.unit, f.number) == (3 * 3600, "soon", "hm", "3:00")


def test_deadline_with_its_weekday() -> None:
    t = at("2026-12-07T14:59")
    assert deadline_text(t, "zh_Hans_CN") == "12月7日（周一）14:59"
    assert deadline_text(t, "en") == "Mon 2026-12-07 14:59"
    assert deadline_parts(t) == {"date": "2026-12-07", "time": "14:59", "weekday": 1}
    assert deadline_parts(None) is None


def test_working_window(cal: BusinessCalendar) -> None:
    assert working_window(at("2026-12-04T10:00"), cal) == (True, at("2026-12-04T17:00"))
    assert working_window(at("2026-12-04T17:00"), cal) == (False, at("2026-12-07T09:00"))  # Friday evening
    assert working_window(at("2026-12-07T08:00"), cal) == (False, at("2026-12-07T09:00"))


def test_face_ticks_only_in_working_time(cal: BusinessCalendar) -> None:
    c = running("2026-12-09T14:59", used=DAY)
    evening = face(c, at("2026-12-04T20:00"), cal, "en")
    assert (evening.ticking, evening.working_now, evening.window_seconds) == (False, False, 61 * 3600)
    assert (evening.unit, evening.number, evening.deadline_text) == ("days", "2.7", "Wed 2026-12-09 14:59")
    morning = face(c, at("2026-12-07T09:00"), cal, "zh")
    assert (morning.ticking, morning.left, morning.window_seconds) == (True, evening.left, 8 * 3600)
    paused = face({**c, "status": "paused", "target_at": None}, at("2026-12-07T09:00"), cal)
    assert (paused.ticking, paused.urgency, paused.number, paused.deadline_text) == (False, "idle", "4", "")


def test_the_online_clock_counts_in_seconds(cal: BusinessCalendar) -> None:
    c = {"kind": "first_response", "status": "running", "target_at": at("2026-12-07T10:01:00").isoformat(),
         "business_seconds_used": 0, "business_seconds_target": 60, "seconds_left": 60}
    f = face(c, at("2026-12-07T10:00:15"), cal)
    assert (f.unit, f.number, f.urgency) == ("s", "45", "ok")
    assert face(c, at("2026-12-07T10:00:50"), cal).urgency == "soon"
