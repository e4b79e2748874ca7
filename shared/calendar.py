"""China's working calendar and business-time arithmetic for SLA clocks.

SLA time only runs on working days of China's official calendar (statutory holidays off, make-up
workdays "调休" on) between the service hours, 09:00-17:00 Asia/Shanghai by default.

Where a date's status comes from, highest priority first:

1. the override file (``holidays:`` / ``workdays:`` lists, flat or under a year key), so operators
   can publish the State Council's schedule before a ``chinesecalendar`` release carries it, or
   correct a single date;
2. ``chinese_calendar``, for the years it covers;
3. a fallback for the years it does not cover (it raises ``NotImplementedError``): Monday-Friday
   minus the fixed-date statutory holidays.  The fallback knows nothing of the lunar holidays or
   of make-up workdays, so using it is reported once per year in the log and through the gauge
   ``yangpu_calendar_fallback_active{year}`` -- unless the override file has a section for that
   year, which means the published schedule is in place.

Working-day status is computed a whole year at a time and cached together with a running count of
working days, so the arithmetic jumps over whole days instead of iterating seconds (or even days):
it runs for every SLA clock of the service.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from prometheus_client import Gauge

SHANGHAI = ZoneInfo("Asia/Shanghai")
_US = timedelta(microseconds=1)

# Fixed-date statutory holidays (month, day) used when the official schedule of a year is unknown.
# May 2 is statutory since the 2025 revision of the holiday rules (State Council Order No. 795).
FALLBACK_FIXED_HOLIDAYS: frozenset[tuple[int, int]] = frozenset({(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)})

CALENDAR_FALLBACK_ACTIVE = Gauge(
    "yangpu_calendar_fallback_active",
    "1 when the working days of a year are computed by the Monday-Friday fallback because neither "
    "chinesecalendar nor the override file has that year's official schedule.",
    ["year"],
)

log = logging.getLogger(__name__)


class CalendarOverrideError(ValueError):
    """The override file is malformed; the message names the file and the bad entry."""


@dataclass(frozen=True)
class CalendarOverrides:
    """Date-level overrides plus the years whose official schedule the file publishes."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    published_years: frozenset[int] = frozenset()


class _DatesAsStringsLoader(yaml.SafeLoader):
    """SafeLoader leaving dates as strings, so an impossible date is reported with its entry."""


_DatesAsStringsLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _parse_date(raw: Any, where: str, path: Path) -> date:
    # The loader hands dates over as strings; date objects are accepted for programmatic callers.
    if isinstance(raw, datetime):
        raise CalendarOverrideError(f"{path}: {where}: expected a date, got a date-time {raw!r}")
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw.strip())
        except ValueError:
            pass
    raise CalendarOverrideError(f"{path}: {where}: {raw!r} is not a date (expected YYYY-MM-DD)")


def _parse_lists(section: Any, year: int | None, path: Path) -> tuple[set[date], set[date]]:
    prefix = "" if year is None else f"{year}."
    if section is None:
        return set(), set()
    if not isinstance(section, dict):
        raise CalendarOverrideError(f"{path}: {year} must be a mapping with 'holidays'/'workdays' lists")
    out: dict[str, set[date]] = {"holidays": set(), "workdays": set()}
    for key, values in section.items():
        if key not in out:
            raise CalendarOverrideError(
                f"{path}: {prefix}{key}: unknown key (expected 'holidays' or 'workdays')"
            )
        if values is None:
            continue
        if not isinstance(values, list):
            raise CalendarOverrideError(f"{path}: {prefix}{key} must be a list of dates, got {values!r}")
        for i, raw in enumerate(values):
            where = f"{prefix}{key}[{i}]"
            d = _parse_date(raw, where, path)
            if year is not None and d.year != year:
                raise CalendarOverrideError(f"{path}: {where}: {d.isoformat()} is not in {year}")
            out[key].add(d)
    return out["holidays"], out["workdays"]


def load_overrides(path: Path | str | None) -> CalendarOverrides:
    """Read the override file; a missing file means no overrides, a malformed one is refused.

    Shape (both forms may be mixed)::

        holidays: [2027-01-01]          # flat: single-date corrections
        workdays: [2027-02-20]
        2027:                           # a year section: that year's published schedule
          holidays: [2027-02-08, ...]
          workdays: [2027-02-20, ...]
    """
    if path is None:
        return CalendarOverrides()
    path = Path(path)
    if not path.exists():
        return CalendarOverrides()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_DatesAsStringsLoader)  # a SafeLoader
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise CalendarOverrideError(f"{path}: cannot read calendar overrides: {exc}") from exc
    if data is None:
        return CalendarOverrides()
    if not isinstance(data, dict):
        raise CalendarOverrideError(
            f"{path}: top level must be a mapping of 'holidays', 'workdays' and year sections"
        )
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    flat = {k: v for k, v in data.items() if k in ("holidays", "workdays")}
    h, w = _parse_lists(flat, None, path)
    holidays |= h
    workdays |= w
    for key, section in data.items():
        if key in ("holidays", "workdays"):
            continue
        year: int | None = None
        if isinstance(key, int) and not isinstance(key, bool):
            year = key
        elif isinstance(key, str) and key.isdigit():
            year = int(key)
        if year is None or not 1 <= year <= 9999:
            raise CalendarOverrideError(
                f"{path}: unknown key {key!r} (expected 'holidays', 'workdays' or a year such as 2027)"
            )
        h, w = _parse_lists(section, year, path)
        holidays |= h
        workdays |= w
        years.add(year)
    both = sorted(holidays & workdays)
    if both:
        raise CalendarOverrideError(
            f"{path}: {both[0].isoformat()} is listed both as a holiday and as a workday"
        )
    return CalendarOverrides(frozenset(holidays), frozenset(workdays), frozenset(years))


class _Year:
    """One year's working-day flags and the running count of working days before each day."""

    __slots__ = ("first_ordinal", "working", "cum")

    def __init__(self, year: int, working: list[bool]) -> None:
        self.first_ordinal = date(year, 1, 1).toordinal()
        self.working = working
        cum = [0]
        for flag in working:
            cum.append(cum[-1] + flag)
        self.cum = cum  # cum[i] = working days among the first i days of the year


class BusinessCalendar:
    """Working days and business-time arithmetic in Asia/Shanghai (all datetimes tz-aware)."""

    def __init__(
        self,
        overrides_path: Path | str | None = None,
        day_start: time = time(9),
        day_end: time = time(17),
    ) -> None:
        if day_start.tzinfo is not None or day_end.tzinfo is not None:
            raise ValueError("day_start/day_end are Asia/Shanghai wall-clock times and must be naive")
        if day_start >= day_end:
            raise ValueError(f"day_start {day_start} must be before day_end {day_end}")
        self.overrides_path = Path(overrides_path) if overrides_path is not None else None
        self.overrides = load_overrides(self.overrides_path)
        self.day_start = day_start
        self.day_end = day_end
        # Arithmetic runs in whole microseconds (datetime's resolution) so float noise can never
        # push a deadline that ends at close of business over to the next morning.
        anchor = date(2000, 1, 1)
        self._day_us = (datetime.combine(anchor, day_end) - datetime.combine(anchor, day_start)) // _US
        self._years: dict[int, _Year] = {}
        self._lock = threading.Lock()

    @property
    def seconds_per_working_day(self) -> int:
        """Business seconds in one working day (28,800 for 09:00-17:00); policies count in these."""
        return self._day_us // 1_000_000

    # ----------------------------------------------------------------- working days

    def _library_is_workday(self, d: date) -> bool | None:
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            return None

    def _build_year(self, year: int) -> _Year:
        ov = self.overrides
        n_days = date(year, 12, 31).toordinal() - date(year, 1, 1).toordinal() + 1
        first = date(year, 1, 1)
        working: list[bool] = []
        fallback_used = False
        for i in range(n_days):
            d = first + timedelta(days=i)
            if d in ov.holidays:
                working.append(False)
                continue
            if d in ov.workdays:
                working.append(True)
                continue
            lib = self._library_is_workday(d)
            if lib is None:
                fallback_used = True
                lib = d.weekday() < 5 and (d.month, d.day) not in FALLBACK_FIXED_HOLIDAYS
            working.append(lib)
        if fallback_used and year not in ov.published_years:
            CALENDAR_FALLBACK_ACTIVE.labels(year=str(year)).set(1)
            log.warning(
                "chinesecalendar has no official schedule for %d and %s has no section for it: "
                "using the Monday-Friday fallback with fixed-date holidays only; publish the "
                "year's schedule in the calendar override file",
                year,
                self.overrides_path or "the (absent) override file",
            )
        elif fallback_used:
            CALENDAR_FALLBACK_ACTIVE.labels(year=str(year)).set(0)
        return _Year(year, working)

    def _year(self, year: int) -> _Year:
        table = self._years.get(year)
        if table is None:
            with self._lock:
                table = self._years.get(year)
                if table is None:
                    table = self._build_year(year)
                    self._years[year] = table
        return table

    def is_working_day(self, d: date) -> bool:
        """Whether SLA time runs on this date (an aware datetime is read in Asia/Shanghai)."""
        if isinstance(d, datetime):
            d = _to_shanghai(d).date()
        table = self._year(d.year)
        return table.working[d.toordinal() - table.first_ordinal]

    def _working_days_between(self, first: date, last: date) -> int:
        """Working days in the half-open range [first, last)."""
        total = 0
        while first < last:
            table = self._year(first.year)
            i = first.toordinal() - table.first_ordinal
            if last.year == first.year:
                return total + table.cum[last.toordinal() - table.first_ordinal] - table.cum[i]
            total += table.cum[-1] - table.cum[i]
            first = date(first.year + 1, 1, 1)
        return total

    def _nth_working_day_after(self, d: date, n: int) -> date:
        """The n-th (n >= 1) working day strictly after d."""
        year = d.year
        table = self._year(year)
        i = d.toordinal() - table.first_ordinal + 1  # index of the day after d
        while True:
            if i < len(table.working):
                available = table.cum[-1] - table.cum[i]
                if n <= available:
                    # the working day at index j is the first with cum[j + 1] == cum[i] + n
                    j = bisect.bisect_left(table.cum, table.cum[i] + n) - 1
                    return date.fromordinal(table.first_ordinal + j)
                n -= available
            year += 1  # OverflowError past year 9999, never an endless loop
            table = self._year(year)
            i = 0

    # ----------------------------------------------------------------- business time

    def _window(self, d: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(d, self.day_start, tzinfo=SHANGHAI),
            datetime.combine(d, self.day_end, tzinfo=SHANGHAI),
        )

    def next_business_instant(self, t: datetime) -> datetime:
        """``t`` if inside service hours of a working day, else the start of the next one.

        Service hours are half-open, [09:00, 17:00): a demand reported at 17:00 starts tomorrow.
        """
        t = _to_shanghai(t)
        d = t.date()
        if self.is_working_day(d):
            start, end = self._window(d)
            if t < start:
                return start
            if t < end:
                return t
        return self._window(self._nth_working_day_after(d, 1))[0]

    def _us_in_day(self, d: date, lo: datetime | None, hi: datetime | None) -> int:
        if not self.is_working_day(d):
            return 0
        start, end = self._window(d)
        a = start if lo is None else min(max(lo, start), end)
        b = end if hi is None else min(max(hi, start), end)
        return max(0, (b - a) // _US)

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds elapsed from ``start`` to ``end``; 0 if ``end <= start``."""
        s, e = _to_shanghai(start), _to_shanghai(end)
        if e <= s:
            return 0.0
        ds, de = s.date(), e.date()
        if ds == de:
            return self._us_in_day(ds, s, e) / 1e6
        middle = self._working_days_between(ds + timedelta(days=1), de)
        total_us = self._us_in_day(ds, s, None) + middle * self._day_us + self._us_in_day(de, None, e)
        return total_us / 1e6

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The earliest instant at which ``seconds`` of business time have elapsed after ``start``.

        A deadline that ends exactly at close of business is that day's 17:00, not the next
        morning; ``seconds == 0`` gives ``next_business_instant(start)``.
        """
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite non-negative number, got {seconds!r}")
        t = self.next_business_instant(start)
        amount_us = round(seconds * 1_000_000)
        if amount_us == 0:
            return t
        d = t.date()
        left_today_us = (self._window(d)[1] - t) // _US
        if amount_us <= left_today_us:
            return t + timedelta(microseconds=amount_us)
        full_days, remainder_us = divmod(amount_us - left_today_us, self._day_us)
        if remainder_us == 0:  # lands exactly at the close of the full_days-th working day
            return self._window(self._nth_working_day_after(d, full_days))[1]
        target = self._nth_working_day_after(d, full_days + 1)
        return self._window(target)[0] + timedelta(microseconds=remainder_us)


def _to_shanghai(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"naive datetime {t!r}: business-time arithmetic needs timezone-aware datetimes")
    return t.astimezone(SHANGHAI)


@lru_cache(maxsize=16)
def _load_cached(key: str | None, hours: str) -> BusinessCalendar:
    return BusinessCalendar(key, *parse_service_hours(hours))


def parse_service_hours(hours: str) -> tuple[time, time]:
    """``"09:00-17:00"`` as two wall-clock times; ``24:00`` is the end of the day (every instant counts)."""
    try:
        start_text, end_text = hours.split("-")
        start = time.fromisoformat(start_text.strip())
        end_text = end_text.strip()
        end = time.max if end_text == "24:00" else time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"SERVICE_HOURS must look like 09:00-17:00, got {hours!r}") from exc
    return start, end


def load_calendar(overrides_path: Path | str | None = None, hours: str = "09:00-17:00") -> BusinessCalendar:
    """The process-wide calendar for an override file and service hours (cached, so it stays warm).

    The file is read once; restart the process (or call ``load_calendar.cache_clear()``) to
    pick up an edited file.
    """
    key = str(Path(overrides_path).resolve()) if overrides_path is not None else None
    return _load_cached(key, hours)


load_calendar.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]
