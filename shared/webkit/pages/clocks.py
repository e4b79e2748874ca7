"""SLA countdowns in business time: what a clock on a page says (time left, urgency, deadline, ticking or not).

Every SLA target is business time (working days of the calendar, service hours only), so a countdown in
wall-clock time misleads ("6 days" for a 5-working-day promise, green with 3 working hours left). The
arithmetic and the wording are pure functions here (tested in ``tests/platform/test_clocks.py``);
``shared/webkit/static/pages.js`` repeats only the formatting of :func:`amount` while the page ticks.
:func:`clock_face` is the template global the ``clock(c)`` macro calls, for the clock dicts routing and sla
produce (kind, status, target_at, business_seconds_used, business_seconds_target, seconds_left).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.calendar import SHANGHAI, BusinessCalendar

# sla's policy warns at this share of the target used; "due soon" is the rest (deploy/sla_policy.yaml).
DEFAULT_WARNING_FRACTION = 0.8
# A target this short is counted in seconds (the online help desk's 60-second first response).
SECONDS_ONLY_TARGET = 60
WEEKDAYS = {"zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
            "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


@dataclass(frozen=True)
class Face:
    """One clock as a page shows it. ``left`` is business seconds (negative once overdue), None once met."""

    kind: str
    status: str
    left: float | None
    target: int
    urgency: str  # ok | soon | overdue | idle (paused or met: no countdown)
    deadline: datetime | None  # target_at in Asia/Shanghai
    ticking: bool  # business time runs now (service hours of a working day) and the clock runs
    working_now: bool
    window_seconds: float  # wall seconds until working time starts or stops (when the page must re-read)
    seconds_only: bool
    seconds_per_day: int
    unit: str  # days | hm | ms | s (see amount); "" when no time is shown
    number: str
    deadline_text: str  # with its weekday, in the reader's language; "" without a deadline


def _moment(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def business_left(c: dict[str, Any], now: datetime, calendar: BusinessCalendar) -> float | None:
    """Business seconds left on a clock: exact from ``target_at`` while it runs (or ran past it), else the
    target minus what was used (paused); None once met."""
    status = c.get("status")
    if status in ("met", "cancelled"):  # cancelled: the demand was withdrawn, rejected or merged
        return None
    target_at = _moment(c.get("target_at"))
    if status in ("running", "breached") and target_at is not None:
        if now <= target_at:
            return calendar.business_seconds_between(now, target_at)
        return -calendar.business_seconds_between(target_at, now)
    return float(c.get("business_seconds_target") or 0) - float(c.get("business_seconds_used") or 0)


def working_window(now: datetime, calendar: BusinessCalendar) -> tuple[bool, datetime]:
    """Whether business time runs at ``now``, and until when it keeps (or stays out of) that state."""
    start = calendar.next_business_instant(now)
    if start > now:
        return False, start
    end = datetime.combine(start.astimezone(SHANGHAI).date(), calendar.day_end, tzinfo=SHANGHAI)
    return True, end


def urgency(left: float | None, target: int, status: str,
            warning_fraction: float = DEFAULT_WARNING_FRACTION) -> str:
    """By business time: overdue once past (or breached), due soon under (1 - warning fraction) of the target."""
    if left is None or status in ("paused", "met"):
        return "idle"
    if left < 0 or status == "breached":
        return "overdue"
    return "soon" if left < target * (1 - warning_fraction) else "ok"


def face(c: dict[str, Any], now: datetime, calendar: BusinessCalendar, lang: str = "zh",
         warning_fraction: float = DEFAULT_WARNING_FRACTION) -> Face:
    """Everything the ``clock`` macro shows of one clock at ``now``."""
    target = int(c.get("business_seconds_target") or 0)
    status = str(c.get("status"))
    left = business_left(c, now, calendar)
    working, until = working_window(now, calendar)
    deadline = _moment(c.get("target_at"))
    runs = status in ("running", "breached") and deadline is not None
    per_day = calendar.seconds_per_working_day
    seconds_only = 0 < target <= SECONDS_ONLY_TARGET
    unit, number = amount(left, per_day, seconds_only) if left is not None else ("", "")
    return Face(kind=str(c.get("kind")), status=status, left=left, target=target,
                urgency=urgency(left, target, status, warning_fraction),
                deadline=deadline.astimezone(SHANGHAI) if deadline else None, ticking=runs and working,
                working_now=working, window_seconds=max(0.0, (until - now).total_seconds()),
                seconds_only=seconds_only, seconds_per_day=per_day, unit=unit, number=number,
                deadline_text=deadline_text(deadline, lang) if deadline else "")


def amount(seconds: float, seconds_per_day: int, seconds_only: bool = False) -> tuple[str, str]:
    """How much business time, as (unit, number): ("days", "1.5") from one working day up (rounded down to a
    tenth, never promising more than is left), ("hm", "3:20") under a day, ("ms", "12:05") under an hour, and
    ("s", "45") for a clock counted in seconds. The sign is the caller's (left or overdue)."""
    s = abs(seconds)
    if seconds_only:
        return "s", str(math.floor(s))
    if s >= seconds_per_day:
        tenths = math.floor(s * 10 / seconds_per_day)
        return "days", (str(tenths // 10) if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}")
    whole = math.floor(s)
    if whole >= 3600:
        return "hm", f"{whole // 3600}:{whole % 3600 // 60:02d}"
    return "ms", f"{whole // 60:02d}:{whole % 60:02d}"


def deadline_text(t: datetime, lang: str) -> str:
    """The working-time deadline with its weekday: 12月7日（周一）14:59, or Mon 2026-12-07 14:59."""
    t = t.astimezone(SHANGHAI)
    if lang.startswith("zh"):
        return f"{t.month}月{t.day}日（{WEEKDAYS['zh'][t.weekday()]}）{t:%H:%M}"
    return f"{WEEKDAYS['en'][t.weekday()]} {t:%Y-%m-%d %H:%M}"


def deadline_parts(t: datetime | None) -> dict[str, Any] | None:
    """The deadline as text parts for an API answer (date, time, ISO weekday) in Asia/Shanghai."""
    if t is None:
        return None
    t = t.astimezone(SHANGHAI)
    return {"date": t.date().isoformat(), "time": f"{t:%H:%M}", "weekday": t.isoweekday()}


def clock_face(c: dict[str, Any], warning_fraction: float = DEFAULT_WARNING_FRACTION) -> Face:
    """The template global: :func:`face` now, with the deployment's calendar and
    the reader's language."""
    from flask import current_app
    from flask_babel import get_locale

    from shared.calendar import calendar_for

    calendar = calendar_for(current_app.extensions["yangpu"]["context"].settings)
    return face(c, datetime.now(UTC), calendar, str(get_locale() or "zh"), warning_fraction)
