"""China's working calendar and business-time arithmetic for SLA clocks.

SLA time only runs on working days of China's official calendar (statutory holidays off, make-up
workdays "调休" on) between the service hours, 09:00-17:00 Asia/Shanghai by default.

Where a date's status comes from, highest priority first (its *source*, reported with every day):

1. ``official``: an operator's entry. A year's whole schedule as the State Council published it, entered
   on the admin desk or ``PUT /api/v1/calendar/{year}`` and kept in the platform store
   (:mod:`shared.calendar_store`); for a year with no such entry, the year section of the override file
   (``CALENDAR_OVERRIDES_PATH``, the seed of a fresh install); then the file's flat lists, which correct
   single dates of the years below.
2. ``library``: ``chinese_calendar``, for the years it covers (it raises ``NotImplementedError`` beyond).
3. ``estimate``: for any other year, the statutory holidays of the national rules as amended in 2024
   (State Council Order No. 795: 元旦 1 day, 春节 4 days from 除夕, 清明 1, 劳动节 2, 端午 1, 中秋 1,
   国庆 3) on Monday-Friday weeks, the lunar and solar-term dates from ``lunar_python``. No make-up
   workday (调休) and no 补休 can be estimated: they are decided each year by the State Council's notice.
   While a current or coming year is estimated the gauge ``yangpu_calendar_estimated{year}`` is 1, a
   warning is logged once, and the pages say so.

The calendar follows the platform store: at most every :data:`REFRESH_SECONDS` it reads the store's
revision (one indexed query) and, when an operator entered a schedule, reloads and forgets its cached years.
SLA re-times its open clocks when the revision moves (``sla_service.commands.retime_clocks``).

Working-day status is computed a whole year at a time and cached together with a running count of
working days, so the arithmetic jumps over whole days instead of iterating seconds (or even days):
it runs for every SLA clock of the service.
"""

from __future__ import annotations

import bisect
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from lunar_python import Lunar
from prometheus_client import Gauge

if TYPE_CHECKING:
    from shared.config import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")
_US = timedelta(microseconds=1)

SOURCES = ("official", "library", "estimate")
# How stale a process's copy of the operators' entries may be.
REFRESH_SECONDS = 1.0
# A year is "coming" (its estimate matters, so it is announced) from this long before it starts: the
# longest resolution target, 30 working days, reaches about six weeks ahead.
LOOKAHEAD = timedelta(days=60)

CALENDAR_ESTIMATED = Gauge(
    "yangpu_calendar_estimated",
    "1 while the working days of a current or coming year are estimated (statutory holidays from the lunar "
    "calendar, no make-up workdays) because neither an operator's entry nor chinesecalendar has its official "
    "schedule; 0 once they have.",
    ["year"],
)

# chinese_calendar's holiday names, as the pages and the API show them.
_LIBRARY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节", "National Day": "国庆节",
}

log = logging.getLogger(__name__)


def estimated_holidays(year: int) -> dict[date, str]:
    """The statutory holidays of ``year`` under the rules as amended in 2024, with their names.

    元旦 Jan 1; 春节 除夕 to 初三 (4 days); 清明 the solar term's day; 劳动节 May 1-2; 端午 the 5th of the 5th
    lunar month; 中秋 the 15th of the 8th; 国庆 Oct 1-3. Lunar dates and the solar term from ``lunar_python``
    (a port of 6tail's lunar library, pure Python, covering 1900-2100 and more). A holiday falling on another
    takes the next free day, as the notices do. The notice also moves days (调休, 补休), which no rule predicts.
    """

    def solar(lunar: Any) -> date:
        s = lunar.getSolar()
        return date(s.getYear(), s.getMonth(), s.getDay())

    new_year = solar(Lunar.fromYmd(year, 1, 1))  # between Jan 21 and Feb 20
    qingming = Lunar.fromYmd(year, 3, 1).getJieQiTable()["清明"]
    fixed = [(date(year, 1, 1), "元旦"), (date(year, 5, 1), "劳动节"), (date(year, 5, 2), "劳动节"),
             *((date(year, 10, d), "国庆节") for d in (1, 2, 3))]
    moving = [*((new_year + timedelta(days=offset), "春节") for offset in range(-1, 3)),  # 除夕 .. 初三
              (date(qingming.getYear(), qingming.getMonth(), qingming.getDay()), "清明节"),
              (solar(Lunar.fromYmd(year, 5, 5)), "端午节"), (solar(Lunar.fromYmd(year, 8, 15)), "中秋节")]
    days: dict[date, str] = {}
    for day, name in fixed + moving:
        while day in days:  # 中秋 on a day of 国庆 (2028, 2031, ...): the notice adds a day to the block
            day += timedelta(days=1)
        days[day] = name
    return days


class ScheduleError(ValueError):
    """An entered schedule breaks a rule; ``errors`` names the field and why (``holidays``, ``workdays``)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class YearSchedule:
    """A year's official schedule: the days off on Monday-Friday or at the weekend, the make-up workdays.

    Days not listed follow the week (Monday-Friday work). ``entered_by``/``entered_at`` say who entered it and
    when (the override file's name and None for the seed); ``revision`` is the platform store's (0: the file).
    """

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]
    entered_by: str
    entered_at: datetime | None = None
    revision: int = 0


def check_schedule(year: int, holidays: list[date], workdays: list[date]) -> None:
    """Refuse a schedule an operator could not mean, naming every problem (ScheduleError)."""
    errors: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    if not holidays:
        refuse("holidays", "a year's schedule lists its holidays; none given")
    for name, days in (("holidays", holidays), ("workdays", workdays)):
        outside = sorted({d for d in days if d.year != year})
        if outside:
            refuse(name, f"{', '.join(d.isoformat() for d in outside)} not in {year}")
        repeated = sorted({d for d in days if days.count(d) > 1})
        if repeated:
            refuse(name, f"{', '.join(d.isoformat() for d in repeated)} listed twice")
    both = sorted(set(holidays) & set(workdays))
    if both:
        refuse("workdays", f"{', '.join(d.isoformat() for d in both)} also listed as holidays")
    weekdays = sorted(d for d in set(workdays) if d.weekday() < 5)
    if weekdays:
        refuse("workdays", f"a make-up workday is a Saturday or Sunday; {', '.join(d.isoformat() for d in weekdays)} "
                           "is a weekday")
    if errors:
        raise ScheduleError(errors)


class ScheduleSource(Protocol):
    """Where operators' entries live (:class:`shared.calendar_store.CalendarStore`)."""

    def revision(self) -> int:
        """The latest revision (0: nothing entered)."""

    def schedules(self) -> tuple[int, dict[int, YearSchedule]]:
        """The revision and each year's latest schedule, read together."""


@dataclass(frozen=True)
class DayStatus:
    """How one date counts: ``kind`` is workday, weekend, holiday or makeup_workday; ``source`` one of SOURCES."""

    day: date
    working: bool
    kind: str
    source: str
    name: str | None = None


class CalendarOverrideError(ValueError):
    """The override file is malformed; the message names the file and the bad entry."""


@dataclass(frozen=True)
class CalendarOverrides:
    """The file's single-date corrections (flat lists) and the years' schedules it seeds."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    schedules: Mapping[int, YearSchedule] = field(default_factory=dict)


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
    flat = {k: v for k, v in data.items() if k in ("holidays", "workdays")}
    holidays, workdays = _parse_lists(flat, None, path)
    both = sorted(holidays & workdays)
    if both:
        raise CalendarOverrideError(
            f"{path}: {both[0].isoformat()} is listed both as a holiday and as a workday"
        )
    schedules: dict[int, YearSchedule] = {}
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
        try:
            check_schedule(year, sorted(h), sorted(w))
        except ScheduleError as exc:
            first = next(iter(exc.errors))
            raise CalendarOverrideError(f"{path}: {year}.{first}: {' '.join(exc.errors[first])}") from exc
        schedules[year] = YearSchedule(year, frozenset(h), frozenset(w), entered_by=path.name)
    return CalendarOverrides(frozenset(holidays), frozenset(workdays), schedules)


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
    """Working days and business-time arithmetic in Asia/Shanghai (all datetimes tz-aware).

    With a ``source`` (the platform store) the operators' entries are followed: see the module's docstring.
    """

    def __init__(
        self,
        overrides_path: Path | str | None = None,
        day_start: time = time(9),
        day_end: time = time(17),
        source: ScheduleSource | None = None,
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
        self._lock = threading.Lock()
        self._source = source
        self._years: dict[int, _Year] = {}
        self._schedules: Mapping[int, YearSchedule] = self.overrides.schedules
        self._estimates: dict[int, dict[date, str]] = {}
        self._warned: set[int] = set()
        self.revision = 0  # the platform store's revision these working days follow (0: none entered)
        self._next_check = 0.0
        if source is not None:
            self.refresh()

    @property
    def seconds_per_working_day(self) -> int:
        """Business seconds in one working day (28,800 for 09:00-17:00); policies count in these."""
        return self._day_us // 1_000_000

    # ----------------------------------------------------------------- following the operators' entries

    def refresh(self, now: datetime | None = None) -> bool:
        """Reload the entries if the store's revision moved; returns whether it did.

        A store that cannot be read keeps the entries last read (logged), so a database restart never stops
        the arithmetic. Also announces every current or coming year that is estimated.
        """
        self._next_check = _monotonic() + REFRESH_SECONDS
        if self._source is None:
            return False
        changed = False
        built = set(self._years)  # their gauges are re-set below, also when an entry dropped them
        try:
            if self._source.revision() != self.revision:
                revision, entered = self._source.schedules()
                with self._lock:
                    self._schedules = {**self.overrides.schedules, **entered}
                    self._years = {}
                    self.revision = revision
                changed = True
                log.info("working calendar now at revision %d (years entered: %s)", revision,
                         ", ".join(str(y) for y in sorted(entered)) or "none")
        except Exception as exc:  # noqa: BLE001 - any store failure: keep the days last read
            log.warning("cannot read the working calendar's entries, keeping revision %d: %s", self.revision, exc)
        today = (now or datetime.now(SHANGHAI)).astimezone(SHANGHAI).date()
        for year in sorted({today.year, (today + LOOKAHEAD).year} | built):
            self._year(year)  # builds it, setting its gauge
        return changed

    def follow(self) -> None:
        """:meth:`refresh` if the last look at the store is :data:`REFRESH_SECONDS` old (the arithmetic does this
        by itself; an idle process that must notice an entry calls it)."""
        if self._source is not None and _monotonic() >= self._next_check:
            self.refresh()

    # ----------------------------------------------------------------- working days

    def _library_is_workday(self, d: date) -> bool | None:
        try:
            return bool(chinese_calendar.is_workday(d))
        except NotImplementedError:
            return None

    def year_source(self, year: int) -> str:
        """``official`` (entered), ``library`` (chinesecalendar) or ``estimate`` for the year's schedule."""
        if year in self._schedules:
            return "official"
        return "estimate" if self._library_is_workday(date(year, 6, 30)) is None else "library"

    def source_between(self, first: date, last: date) -> str:
        """The weakest source of the years ``first``..``last`` span: ``estimate`` if any is estimated, else
        ``official`` if any is entered, else ``library`` (what a deadline over those days rests on)."""
        sources = {self.year_source(year) for year in range(first.year, last.year + 1)}
        return next(source for source in ("estimate", "official", "library") if source in sources)

    def estimated_years(self, today: date) -> list[int]:
        """The current or coming years (within :data:`LOOKAHEAD`) whose working days are estimated."""
        years = sorted({today.year, (today + LOOKAHEAD).year})
        return [y for y in years if self.year_source(y) == "estimate"]

    def _estimate(self, year: int) -> dict[date, str]:
        table = self._estimates.get(year)
        if table is None:
            try:
                table = estimated_holidays(year)
            except Exception:  # noqa: BLE001 - beyond the lunar tables: the fixed-date holidays at least
                table = {d: n for d, n in estimated_holidays(2000).items() if n in ("元旦", "劳动节", "国庆节")}
                table = {d.replace(year=year): n for d, n in table.items()}
            self._estimates[year] = table
        return table

    def day_status(self, d: date) -> DayStatus:
        """How ``d`` counts and why: the layer that decided it (module docstring) and the holiday's name."""
        ov = self.overrides
        weekend = d.weekday() >= 5
        schedule = self._schedules.get(d.year)
        if schedule is not None:
            working = d in schedule.workdays or (not weekend and d not in schedule.holidays)
            source = "official"
        elif d in ov.holidays or d in ov.workdays:
            working, source = d in ov.workdays, "official"
        else:
            lib = self._library_is_workday(d)
            if lib is None:
                working, source = not weekend and d not in self._estimate(d.year), "estimate"
            else:
                working, source = lib, "library"
        name = self._estimate(d.year).get(d)
        if source == "library":
            on_holiday, detail = chinese_calendar.get_holiday_detail(d)
            name = _LIBRARY_NAMES.get(detail) if on_holiday else None
        if working:
            kind = "makeup_workday" if weekend else "workday"
        else:
            listed = (d in ov.holidays or (schedule is not None and d in schedule.holidays)
                      or (source != "official" and name is not None))
            kind = "holiday" if listed or not weekend else "weekend"
        return DayStatus(d, working, kind, source, name if not working or kind == "makeup_workday" else None)

    def year_days(self, year: int) -> list[DayStatus]:
        """Every day of ``year`` with its status and source (``GET /api/v1/calendar/{year}``)."""
        self.follow()
        first = date(year, 1, 1)
        return [self.day_status(first + timedelta(days=i)) for i in range(date(year, 12, 31).timetuple().tm_yday)]

    def schedule(self, year: int) -> YearSchedule | None:
        """The official schedule in force for ``year`` (entered, or the file's seed), if any."""
        self.follow()
        return self._schedules.get(year)

    def _build_year(self, year: int) -> _Year:
        first = date(year, 1, 1)
        n_days = date(year, 12, 31).toordinal() - first.toordinal() + 1
        working = [self.day_status(first + timedelta(days=i)).working for i in range(n_days)]
        estimated = self.year_source(year) == "estimate"
        CALENDAR_ESTIMATED.labels(year=str(year)).set(1 if estimated else 0)
        if estimated and year not in self._warned:
            self._warned.add(year)
            log.warning(
                "no official schedule for %d (neither entered nor in chinesecalendar): its working days are "
                "estimated from the statutory holidays, without make-up workdays; enter the State Council's "
                "notice on the admin desk's calendar page", year,
            )
        return _Year(year, working)

    def _year(self, year: int) -> _Year:
        self.follow()
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
def _load_cached(key: str | None, hours: str, store_url: str | None) -> BusinessCalendar:
    source = None
    if store_url is not None:
        from shared.calendar_store import CalendarStore  # the store needs SQLAlchemy; the arithmetic does not

        source = CalendarStore.open(store_url)
    return BusinessCalendar(key, *parse_service_hours(hours), source=source)


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


def load_calendar(overrides_path: Path | str | None = None, hours: str = "09:00-17:00",
                  store_url: str | None = None) -> BusinessCalendar:
    """The process-wide calendar for an override file, service hours and platform store (cached, so it stays
    warm). The file is read once; the store's entries are followed (see the module's docstring)."""
    key = str(Path(overrides_path).resolve()) if overrides_path is not None else None
    return _load_cached(key, hours, store_url)


def calendar_for(settings: Settings) -> BusinessCalendar:
    """This deployment's calendar: its override file, its service hours, the operators' entries."""
    return load_calendar(settings.calendar_overrides_path, settings.service_hours, settings.auth_database_url)


load_calendar.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]
