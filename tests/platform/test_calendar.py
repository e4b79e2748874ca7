"""Business-time arithmetic on China's working calendar (acceptance tests of the SLA issue).

Dates used below, as chinesecalendar 1.11.0 has them (verified with the library):
- March 2026 has no holidays; 2026-03-13 is a Friday, 2026-03-16 a Monday.
- National Day 2026: 2026-10-01 (Thu) .. 2026-10-07 (Wed) off; make-up workdays Sunday 2026-09-20
  and Saturday 2026-10-10; Mid-Autumn 2026-09-25 (Fri) .. 09-27 off.
- 2027 is not covered (NotImplementedError): the estimate applies. 2027-01-01 is a Friday.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from shared.calendar import (
    SHANGHAI,
    BusinessCalendar,
    CalendarOverrideError,
    load_calendar,
)
from tests.helpers import refusal

HOUR = 3600
SHIPPED_OVERRIDES = Path(__file__).resolve().parents[2] / "deploy" / "calendar_overrides.yaml"
DAY = 28_800


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def cal() -> BusinessCalendar:
    return BusinessCalendar()


def estimated_gauge(year: int) -> float | None:
    return REGISTRY.get_sample_value("yangpu_calendar_estimated", {"year": str(year)})


# ---------------------------------------------------------------- the library's 2026 facts


def test_library_national_day_2026_is_what_the_tests_assume():
    off = [date(2026, 10, d) for d in range(1, 8)]
    assert not any(chinese_calendar.is_workday(d) for d in off)
    assert chinese_calendar.is_workday(date(2026, 10, 10))  # Saturday, make-up workday
    assert chinese_calendar.is_workday(date(2026, 9, 20))  # Sunday, make-up workday
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


def test_working_days(cal):
    assert cal.seconds_per_working_day == DAY
    assert cal.is_working_day(date(2026, 3, 13))  # Friday
    assert not cal.is_working_day(date(2026, 3, 14))  # Saturday
    assert not cal.is_working_day(date(2026, 10, 1))  # National Day
    assert cal.is_working_day(date(2026, 10, 10))  # make-up Saturday
    assert cal.is_working_day(date(2026, 9, 20))  # make-up Sunday
    assert not cal.is_working_day(date(2026, 9, 25))  # Mid-Autumn Friday


# ---------------------------------------------------------------- next_business_instant


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        (sh(2026, 3, 17, 10, 15), sh(2026, 3, 17, 10, 15)),  # inside hours: itself
        (sh(2026, 3, 17, 8, 0), sh(2026, 3, 17, 9, 0)),  # before opening
        (sh(2026, 3, 17, 17, 0), sh(2026, 3, 18, 9, 0)),  # 17:00 is closed: [09:00, 17:00)
        (sh(2026, 3, 13, 18, 0), sh(2026, 3, 16, 9, 0)),  # Friday evening -> Monday
        (sh(2026, 3, 14, 10, 0), sh(2026, 3, 16, 9, 0)),  # Saturday -> Monday
        (sh(2026, 9, 30, 20, 0), sh(2026, 10, 8, 9, 0)),  # eve of Golden Week -> Oct 8
        (sh(2026, 10, 9, 17, 30), sh(2026, 10, 10, 9, 0)),  # Friday -> make-up Saturday
        # 02:00 UTC is 10:00 in Shanghai; the result comes back in Asia/Shanghai
        (datetime(2026, 3, 17, 2, 0, tzinfo=UTC), sh(2026, 3, 17, 10, 0)),
    ],
)
def test_start_outside_hours_moves_to_next_business_instant(cal, reported, expected):
    got = cal.next_business_instant(reported)
    assert got == expected
    assert got.tzinfo == SHANGHAI


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError, match="naive"):
        cal.next_business_instant(datetime(2026, 3, 17, 10))
    with pytest.raises(ValueError, match="naive"):
        cal.business_seconds_between(datetime(2026, 3, 17, 10), sh(2026, 3, 18))
    with pytest.raises(ValueError, match="naive"):
        cal.add_business_seconds(datetime(2026, 3, 17, 10), 60)


def test_bad_service_hours_are_refused():
    with pytest.raises(ValueError):
        BusinessCalendar(day_start=time(17), day_end=time(9))


# ---------------------------------------------------------------- arithmetic


def test_across_a_weekend(cal):
    # Fri 16:00 -> 17:00 is 1 h; Sat/Sun off; Mon 09:00 -> 10:00 is the 2nd hour.
    assert cal.add_business_seconds(sh(2026, 3, 13, 16), 2 * HOUR) == sh(2026, 3, 16, 10)
    assert cal.business_seconds_between(sh(2026, 3, 13, 16), sh(2026, 3, 16, 10)) == 2 * HOUR
    # the whole weekend contributes nothing
    assert cal.business_seconds_between(sh(2026, 3, 13, 17), sh(2026, 3, 16, 9)) == 0


def test_across_the_end_of_a_service_day(cal):
    # Tue 16:30 + 1 h: 30 min on Tuesday, 30 min on Wednesday -> Wed 09:30.
    assert cal.add_business_seconds(sh(2026, 3, 17, 16, 30), HOUR) == sh(2026, 3, 18, 9, 30)
    # Fri 16:30 + 1 h -> Mon 09:30.
    assert cal.add_business_seconds(sh(2026, 3, 13, 16, 30), HOUR) == sh(2026, 3, 16, 9, 30)


def test_deadline_exactly_at_close_stays_that_day(cal):
    assert cal.add_business_seconds(sh(2026, 3, 17, 16), HOUR) == sh(2026, 3, 17, 17)
    # one working day from 09:00 is 17:00 the same day, not 09:00 the next
    assert cal.add_business_seconds(sh(2026, 3, 17, 9), DAY) == sh(2026, 3, 17, 17)
    # one working day from 13:00 is 13:00 the next working day
    assert cal.add_business_seconds(sh(2026, 3, 17, 13), DAY) == sh(2026, 3, 18, 13)
    # two working days from Thu 09:00 end Fri 17:00
    assert cal.add_business_seconds(sh(2026, 3, 12, 9), 2 * DAY) == sh(2026, 3, 13, 17)


def test_zero_seconds_is_the_next_business_instant(cal):
    assert cal.add_business_seconds(sh(2026, 3, 17, 17), 0) == sh(2026, 3, 18, 9)
    assert cal.add_business_seconds(sh(2026, 3, 17, 11), 0) == sh(2026, 3, 17, 11)
    with pytest.raises(ValueError):
        cal.add_business_seconds(sh(2026, 3, 17, 11), -1)


def test_across_national_day_2026_with_make_up_saturday(cal):
    # From Wed 2026-09-30 16:00, 3 working days = 24 h:
    #   09-30 16:00-17:00 ........ 1 h   (total 1)
    #   10-01 .. 10-07 off (National Day)
    #   10-08 Thu ................ 8 h   (9)
    #   10-09 Fri ................ 8 h   (17)
    #   10-10 Sat (make-up) 09:00 + 7 h = 16:00 (24)
    assert cal.add_business_seconds(sh(2026, 9, 30, 16), 3 * DAY) == sh(2026, 10, 10, 16)
    # One more hour than that reaches 17:00 of the make-up Saturday; one more again skips
    # Sunday 10-11 and lands on Monday 10-12 09:00 + 1 h.
    assert cal.add_business_seconds(sh(2026, 9, 30, 16), 3 * DAY + HOUR) == sh(2026, 10, 10, 17)
    assert cal.add_business_seconds(sh(2026, 9, 30, 16), 3 * DAY + 2 * HOUR) == sh(2026, 10, 12, 10)
    # 09-30 09:00 -> 10-12 09:00 contains 09-30, 10-08, 10-09, 10-10: 4 working days.
    assert cal.business_seconds_between(sh(2026, 9, 30, 9), sh(2026, 10, 12, 9)) == 4 * DAY
    # Nothing at all counts during the holiday week.
    assert cal.business_seconds_between(sh(2026, 10, 1), sh(2026, 10, 8)) == 0


def test_across_the_make_up_sunday_before_national_day(cal):
    # Fri 2026-09-18 16:00 + 2 h: 1 h Friday, Sat 09-19 off, Sun 09-20 is a make-up workday.
    assert cal.add_business_seconds(sh(2026, 9, 18, 16), 2 * HOUR) == sh(2026, 9, 20, 10)


def test_thirty_working_days_jumps_days(cal):
    # Difficult demand reported Mon 2026-03-02 09:00: 30 working days, March has no holidays:
    # Mar 2-6, 9-13, 16-20, 23-27, Mar 30-Apr 3 = 25 days; Apr 6 (Mon) is Qingming (off);
    # Apr 7-10 = 29, Apr 13 = 30th -> 2026-04-13 17:00.
    assert cal.add_business_seconds(sh(2026, 3, 2, 9), 30 * DAY) == sh(2026, 4, 13, 17)
    assert cal.business_seconds_between(sh(2026, 3, 2, 9), sh(2026, 4, 13, 17)) == 30 * DAY


# ---------------------------------------------------------------- fallback years


def test_deadline_running_into_2027_uses_the_estimate(caplog):
    cal = BusinessCalendar()
    caplog.set_level(logging.WARNING, logger="shared.calendar")
    # Difficult (30 working days) from Mon 2026-12-28 09:00. December 2026 (library): Dec 28-31 (4). 2027
    # (estimate): Jan 1 (Fri) 元旦 off; Jan 4-29 -> 24; Feb 1-4 -> 28; 除夕 Fri 02-05 to 初三 Mon 02-08 off;
    # Feb 9, 10 -> 30 => 2027-02-10 17:00 (Monday-Friday alone would have said 02-08).
    due = cal.add_business_seconds(sh(2026, 12, 28, 9), 30 * DAY)
    assert due == sh(2027, 2, 10, 17)
    assert estimated_gauge(2027) == 1.0
    assert [r for r in caplog.records if "2027" in r.getMessage()]
    assert [d for d in (date(2027, 2, 4) + timedelta(days=i) for i in range(6)) if not cal.is_working_day(d)] == [
        date(2027, 2, d) for d in range(5, 9)]
    for d in (date(2027, 1, 1), date(2027, 4, 5), date(2027, 5, 1), date(2027, 6, 9), date(2027, 9, 15),
              date(2027, 10, 1), date(2027, 10, 3)):
        assert not cal.is_working_day(d), d  # 元旦, 清明, 劳动节, 端午, 中秋, 国庆
        assert cal.day_status(d).source == "estimate" and cal.day_status(d).name
    assert cal.is_working_day(date(2027, 1, 4))
    assert not cal.is_working_day(date(2027, 1, 2))  # Saturday
    for d in (date(2028, 1, 25), date(2028, 1, 28), date(2028, 5, 2), date(2028, 10, 3)):
        assert not cal.is_working_day(d), d  # 2028: 除夕 01-25 to 初三 01-28, 劳动节, 国庆
    assert cal.estimated_years(date(2026, 11, 30)) == [2027]
    assert cal.estimated_years(date(2026, 6, 1)) == []

    # logged once per year, not once per lookup
    caplog.clear()
    cal.add_business_seconds(sh(2027, 3, 1, 9), 5 * DAY)
    assert not [r for r in caplog.records if "2027" in r.getMessage()]


@pytest.mark.parametrize("year", range(2027, 2051))
def test_the_estimate_has_the_thirteen_statutory_days_of_the_2024_rules(year):
    from shared.calendar import estimated_holidays

    days = estimated_holidays(year)
    names = sorted(days.values())
    assert len(days) == 13 and all(d.year == year for d in days)
    assert {n: names.count(n) for n in set(names)} == {"元旦": 1, "春节": 4, "清明节": 1, "劳动节": 2, "端午节": 1,
                                                       "中秋节": 1, "国庆节": 3}
    spring = sorted(d for d, n in days.items() if n == "春节")
    assert spring == [spring[0] + timedelta(days=i) for i in range(4)]
    assert date(year, 1, 20) <= spring[0] <= date(year, 2, 20)
    qingming = next(d for d, n in days.items() if n == "清明节")
    assert qingming in (date(year, 4, 4), date(year, 4, 5), date(year, 4, 6))


# ---------------------------------------------------------------- override file


def test_override_file_wins_over_library_and_fallback(tmp_path, caplog):
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "holidays: [2026-03-16]        # library: an ordinary Monday\n"
        "workdays: ['2026-10-05']      # library: National Day holiday\n"
        "2027:\n"
        "  holidays: [2027-02-08]      # fallback: a Monday workday\n"
        "  workdays: [2027-02-20]      # fallback: a Saturday\n",
        encoding="utf-8",
    )
    caplog.set_level(logging.WARNING, logger="shared.calendar")
    cal = BusinessCalendar(path)
    assert not cal.is_working_day(date(2026, 3, 16))
    assert cal.is_working_day(date(2026, 10, 5))
    assert not cal.is_working_day(date(2027, 2, 8))
    assert cal.is_working_day(date(2027, 2, 20))
    assert cal.is_working_day(date(2027, 1, 1))  # a year section is the whole schedule: what it leaves out works
    assert cal.day_status(date(2027, 2, 8)).source == "official"
    # Fri 03-13 16:00 + 2 h: 1 h Friday, Monday 03-16 now off -> Tue 03-17 10:00.
    assert cal.add_business_seconds(sh(2026, 3, 13, 16), 2 * HOUR) == sh(2026, 3, 17, 10)
    # A year section is the published schedule: no estimate alarm for 2027.
    assert estimated_gauge(2027) == 0.0
    assert not [r for r in caplog.records if "2027" in r.getMessage()]


def test_missing_override_file_is_fine(tmp_path):
    cal = BusinessCalendar(tmp_path / "absent.yaml")
    assert cal.is_working_day(date(2026, 3, 16))


def test_shipped_override_file_loads():
    cal = load_calendar(SHIPPED_OVERRIDES)
    assert cal is load_calendar(str(SHIPPED_OVERRIDES))
    assert cal.is_working_day(date(2026, 10, 10))


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("holidays: [2026-13-01]\n", "2026-13-01"),
        ("holidays: ['not a date']\n", "not a date"),
        ("holidays: 2026-10-01\n", "holidays"),
        ("holiday: [2026-10-01]\n", "holiday"),
        ("- 2026-10-01\n", "top level"),
        ("holidays: [2026-10-01\n", "cannot read"),
        ("holidays: [2026-10-01]\nworkdays: [2026-10-01]\n", "2026-10-01"),
        ("2027:\n  holidays: [2026-10-01]\n", "2027.holidays[0]"),
        ("2027:\n  days: [2027-10-01]\n", "days"),
        ("2027: [2027-10-01]\n", "2027"),
        ("holidays: [2026-10-01 10:00:00]\n", "holidays[0]"),
    ],
)
def test_malformed_override_file_names_file_and_entry(tmp_path, content, names):
    assert names in refusal(BusinessCalendar, CalendarOverrideError, tmp_path / "bad_overrides.yaml", content)


# ---------------------------------------------------------------- properties

INSTANTS = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 2, 28)).map(
    lambda t: t.replace(tzinfo=SHANGHAI)
)
AMOUNTS = st.one_of(
    st.integers(min_value=0, max_value=40 * DAY),
    st.floats(min_value=0, max_value=40 * DAY, allow_nan=False, allow_infinity=False),
    st.sampled_from([60, HOUR, DAY, 5 * DAY, 10 * DAY, 30 * DAY]),
)


@settings(max_examples=150, deadline=None)
@given(start=INSTANTS, seconds=AMOUNTS)
def test_add_business_seconds_inverts_business_seconds_between(cal, start, seconds):
    due = cal.add_business_seconds(start, seconds)
    assert due >= start
    assert cal.business_seconds_between(start, due) == pytest.approx(seconds, abs=1e-6)
    # and it is the earliest such instant: a microsecond earlier the amount is not reached yet
    if seconds >= 1e-5:
        assert cal.business_seconds_between(start, due - timedelta(microseconds=1)) < seconds


@settings(max_examples=150, deadline=None)
@given(start=INSTANTS, span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_business_seconds_between_inverts_add_business_seconds(cal, start, span):
    end = start + span
    used = cal.business_seconds_between(start, end)
    back = cal.add_business_seconds(start, used)
    # `back` is the earliest instant with that much business time: never after `end`, and the
    # same business time elapsed (end may sit in a closed period after it)
    assert back <= end or used == 0
    assert cal.business_seconds_between(start, back) == pytest.approx(used, abs=1e-6)


class _Entries:
    """A stand-in for the platform store (pure logic: the real store is tested in tests/sla/http)."""

    def __init__(self) -> None:
        self.entries: dict[int, object] = {}
        self.fail = False

    def revision(self) -> int:
        if self.fail:
            raise ConnectionError("store down")
        return max((s.revision for s in self.entries.values()), default=0)

    def schedules(self):
        return self.revision(), dict(self.entries)


def test_the_calendar_follows_entries_flips_its_gauge_and_keeps_its_days_when_the_store_is_down(caplog):
    from shared.calendar import YearSchedule

    entries = _Entries()
    cal = BusinessCalendar(source=entries)
    cal.refresh(now=sh(2026, 11, 30, 9))
    assert cal.revision == 0 and estimated_gauge(2027) == 1.0
    assert not cal.is_working_day(date(2027, 2, 8)) and cal.is_working_day(date(2027, 2, 9))
    notice = YearSchedule(2027, frozenset(date(2027, 2, d) for d in range(5, 13)), frozenset({date(2027, 2, 20)}),
                          "admin-01", revision=1)
    entries.entries[2027] = notice
    assert cal.refresh(now=sh(2026, 11, 30, 9)) is True
    assert cal.revision == 1 and estimated_gauge(2027) == 0.0
    assert not cal.is_working_day(date(2027, 2, 9)) and cal.is_working_day(date(2027, 2, 20))
    assert cal.day_status(date(2027, 2, 20)).kind == "makeup_workday"
    assert cal.schedule(2027) == notice and cal.year_source(2027) == "official"
    assert cal.refresh(now=sh(2026, 11, 30, 9)) is False  # same revision: nothing reloaded

    entries.fail = True
    caplog.set_level(logging.WARNING, logger="shared.calendar")
    assert cal.refresh() is False
    assert "keeping revision 1" in caplog.text
    assert not cal.is_working_day(date(2027, 2, 9))  # the days last read still count
