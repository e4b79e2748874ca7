"""The working calendar's API, served by every service (it is the platform's, like accounts):
``GET /api/v1/calendar/{year}`` and the admins' ``PUT /api/v1/calendar/{year}``.

Every day of a year comes with its status and its source (``official``: an operator's entry, ``library``:
chinesecalendar, ``estimate``: the statutory holidays from the lunar calendar, see :mod:`shared.calendar`). An
entry is checked (dates in that year, none listed twice or as both, make-up workdays on Saturday or Sunday),
appended with who entered it and when, audited, and followed by every process within a second; SLA then
re-times the open clocks (``sla_service.commands.retime_clocks``). The admin desk's calendar page enters a year
through the same store and the same check.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import marshmallow as ma
from flask import current_app
from flask_smorest import abort
from sqlalchemy.exc import SQLAlchemyError

from shared.auth import ACCOUNT_ROLES
from shared.calendar import SOURCES, BusinessCalendar, ScheduleError, YearSchedule, calendar_for
from shared.calendar_store import CalendarStore
from shared.fields import Instant, day
from shared.webkit.app import answers
from shared.webkit.auth import auth_store, current_principal, require
from shared.webkit.inputs import ApiBlueprint

# The years a schedule can be read or entered for: the lunar tables and chinesecalendar's first year bound it.
FIRST_YEAR, LAST_YEAR = 2004, 2100
DAY_KINDS = ("workday", "weekend", "holiday", "makeup_workday")
ESTIMATE_NOTE = ("Estimated: the statutory holidays of the 2024 rules on their lunar and solar-term dates; "
                 "make-up workdays (调休) and moved days cannot be estimated. Enter the State Council's notice.")

calendar_api = ApiBlueprint("calendar", __name__, url_prefix="/api/v1/calendar",
                            description="China's working calendar: each day's status and source; admins enter "
                                        "a year's official schedule")


class DayOut(ma.Schema):
    date = ma.fields.Date(required=True, metadata={"description": "The day (Asia/Shanghai calendar)"})
    working = ma.fields.Boolean(required=True, metadata={"description": "SLA time runs on this day"})
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(DAY_KINDS),
                            metadata={"description": "Why it counts so: an ordinary workday, a weekend, a holiday "
                                                     "or a make-up workday (调休)"})
    source = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCES),
                              metadata={"description": "Who says so: an operator's official entry, chinesecalendar, "
                                                       "or the estimate"})
    name = ma.fields.String(allow_none=True, metadata={"description": "The holiday's name (春节, 国庆节, ...)"})


class YearOut(ma.Schema):
    year = ma.fields.Integer(required=True, metadata={"description": "The year shown"})
    source = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCES),
                              metadata={"description": "Where this year's schedule comes from"})
    estimated = ma.fields.Boolean(required=True, metadata={
        "description": "No official schedule yet: deadlines in this year may move when it is entered"})
    note = ma.fields.String(allow_none=True, metadata={"description": "What an estimate cannot know"})
    revision = ma.fields.Integer(required=True, metadata={"description": "The entry's revision (0: none entered)"})
    entered_by = ma.fields.String(allow_none=True, metadata={"description": "Who entered the schedule in force"})
    entered_at = Instant(allow_none=True, metadata={"description": "When it was entered"})
    holidays = ma.fields.List(ma.fields.Date(), required=True, metadata={"description": "Days off this year"})
    workdays = ma.fields.List(ma.fields.Date(), required=True,
                              metadata={"description": "Make-up workdays (Saturdays and Sundays worked)"})
    days = ma.fields.List(ma.fields.Nested(DayOut), required=True, metadata={"description": "Every day of the year"})


class YearIn(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    holidays = ma.fields.List(day("A day off"), required=True, validate=ma.validate.Length(max=366),
                              metadata={"description": "Every day off of the notice, weekends included"})
    workdays = ma.fields.List(day("A make-up workday"), load_default=list, validate=ma.validate.Length(max=366),
                              metadata={"description": "Every make-up workday (a Saturday or Sunday)"})


def _year(year: int) -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        abort(422, message="no calendar for that year", errors={"year": [f"must be {FIRST_YEAR}-{LAST_YEAR}"]})
    return year


def year_view(calendar: BusinessCalendar, year: int) -> dict[str, Any]:
    """A year as the API and the admin's calendar page show it."""
    days = calendar.year_days(year)
    schedule = calendar.schedule(year)
    source = calendar.year_source(year)
    return {
        "year": year, "source": source, "estimated": source == "estimate",
        "note": ESTIMATE_NOTE if source == "estimate" else None,
        "revision": schedule.revision if schedule else 0,
        "entered_by": schedule.entered_by if schedule else None,
        "entered_at": schedule.entered_at if schedule else None,
        "holidays": [d.day for d in days if d.kind == "holiday"],
        "workdays": [d.day for d in days if d.kind == "makeup_workday"],
        "days": [vars(d) | {"date": d.day} for d in days],
    }


def _calendar() -> BusinessCalendar:
    return calendar_for(current_app.extensions["yangpu"]["context"].settings)


@calendar_api.route("/<int:year>", methods=["GET"])
@require(*ACCOUNT_ROLES)
@calendar_api.response(200, YearOut)
@answers(calendar_api, {403: "Not a staff role.", 422: f"A year outside {FIRST_YEAR}-{LAST_YEAR}."})
def get_year(year: int) -> dict[str, Any]:
    """Every day of the year: working or not, why (kind), where that comes from (source), the holiday's name.

    `estimated` is true while neither an operator's entry nor chinesecalendar has the year's official schedule.
    """
    return year_view(_calendar(), _year(year))


@calendar_api.route("/<int:year>", methods=["PUT"])
@require("admin")
@calendar_api.arguments(YearIn)
@calendar_api.response(200, YearOut)
@answers(calendar_api, {403: "Only an admin enters the calendar.",
                        422: "A date outside the year, listed twice or as both, or a make-up workday on a weekday.",
                        503: "The platform store cannot be reached."})
def put_year(body: dict[str, Any], year: int) -> dict[str, Any]:
    """Enter the year's official schedule (the State Council's notice): it replaces the estimate or the library's
    days, is recorded with who and when, and SLA re-times every open clock whose deadline it moves."""
    try:
        enter_year(_year(year), body["holidays"], body["workdays"], current_principal().subject)
    except ScheduleError as exc:
        abort(422, message="the schedule is refused", errors=exc.errors)
    except SQLAlchemyError:
        abort(503, message="the platform store cannot be reached")
    return year_view(_calendar(), year)


def enter_year(year: int, holidays: list[date], workdays: list[date], actor: str) -> YearSchedule:
    """The one way in for an entry (this API and the admin desk's page): checked and appended in the platform
    store (ScheduleError, SQLAlchemyError), then followed by this process at once; every other within a second."""
    store = auth_store()
    if store is None:
        raise SQLAlchemyError("this app has no platform store")
    entry = CalendarStore(store.engine).enter(year, holidays, workdays, actor)
    _calendar().refresh()
    return entry
