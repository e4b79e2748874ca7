"""The admin desk's working calendar (issue 16 points 2 and 4): the year month by month with each day's source,
the official schedule entered through a form that takes the notice's ranges and is checked as the API checks it,
and the banner on the admin's and the supervisor's pages while a current or coming year is only estimated.

2027 is beyond chinesecalendar 1.11.0, so it starts as the estimate: 春节 除夕 Fri 02-05 to 初三 Mon 02-08 off, no
make-up workday. The entry below is a made-up notice of the usual shape (the one tests/sla/http/test_calendar_retime.py
enters through the API), typed as an admin would, with ranges.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from routing_service.http import supervisor_pages
from shared.calendar import SHANGHAI, BusinessCalendar, calendar_for
from shared.calendar_store import CalendarStore
from shared.webkit.auth import auth_store
from shared.webkit.service_client import ServiceUnavailable
from tests.routing.conftest import OFFICER_1, Routing
from tests.routing.test_admin_pages import ADMIN, _client, _csrf
from tests.signin import settings_of

HOLIDAYS = "2027-01-01\n2027-02-05..2027-02-12\n2027-04-05, 2027-05-01~2027-05-03\n2027-06-09\n2027-09-15\n" \
           "2027-10-01..2027-10-07"
WORKDAYS = "2027-02-20, 2027-09-26\n2027-10-09"
BANNER = "working calendar is an estimate: enter the State Council's notice"


def _calendar(routing: Routing) -> BusinessCalendar:
    return calendar_for(settings_of(routing.client.application))


def _store(routing: Routing) -> CalendarStore:
    return CalendarStore(auth_store(routing.client.application).engine)


def _day(page: str, day: str) -> dict[str, str]:
    """A day's cell of the month tables: its kind and its title (the holiday's name)."""
    cell = re.search(rf'<td class="day [^"]*" data-date="{day}" data-kind="([a-z_]+)"(?: title="([^"]*)")?', page)
    assert cell, day
    return {"kind": cell[1], "name": cell[2]}


def _estimated(routing: Routing) -> list[int]:
    """What the banner should say now: computed from the calendar, so the test holds on any date."""
    return _calendar(routing).estimated_years(datetime.now(SHANGHAI).date())


@pytest.fixture
def admin(routing: Routing) -> Any:
    return _client(routing)


@pytest.fixture
def supervisor(routing: Routing, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The street's supervisor; sla and intake are not running here, so their figures are simply missing."""

    def unavailable(service: str, path: str, *_: Any, **__: Any) -> Any:
        raise ServiceUnavailable(f"{service} {path}: not in this test", 503)

    monkeypatch.setattr(supervisor_pages, "call_service", unavailable)
    return _client(routing, "supervisor", "sup-wujiaochang", "wujiaochang")


def test_the_2027_estimate_month_by_month_with_the_spring_festival_off(routing: Routing, admin: Any) -> None:
    answer = admin.get("/admin/calendar?year=2027&lang=en")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    assert re.search(r'data-source="estimate" data-revision="0"', page)
    assert "Make-up workdays (调休) and moved days cannot be estimated" in page
    assert len(re.findall(r'<table class="month"', page)) == 12
    for day in ("2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08"):
        assert _day(page, day) == {"kind": "holiday", "name": "春节"}, day
    assert _day(page, "2027-02-04") == {"kind": "workday", "name": None}
    assert _day(page, "2027-02-13")["kind"] == "weekend"
    assert not re.search(r'data-kind="makeup_workday"', page)  # none can be estimated
    # Entering is editing: the form starts from the estimate's days off, as ranges.
    holidays = re.search(r'<textarea id="c-holidays"[^>]*>([^<]*)</textarea>', page)[1]
    assert "2027-02-05..2027-02-08" in holidays.splitlines()
    assert "Nothing entered for this year yet." in page
    # A library year says so; with no year asked, the first estimated year (or this one) is shown.
    assert 'data-source="library"' in admin.get("/admin/calendar?year=2026&lang=en").get_data(as_text=True)
    default = admin.get("/admin/calendar?lang=en").get_data(as_text=True)
    expected = next(iter(_estimated(routing)), datetime.now(SHANGHAI).year)
    assert f"<h1>Working calendar {expected}</h1>" in default
    assert admin.get("/admin/calendar?year=1800").status_code == 404
    assert admin.get("/admin/calendar?year=soon").status_code == 404


def test_entering_2027_with_ranges_makes_it_official_for_the_api_and_the_audit(routing: Routing, admin: Any) -> None:
    token = _csrf(admin, "/admin/calendar?year=2027")
    answer = admin.post("/admin/calendar/2027?lang=en", data={"csrf_token": token, "holidays": HOLIDAYS,
                                                              "workdays": WORKDAYS})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    revision = _store(routing).revision()
    assert revision == 1 and f"entered={revision}" in answer.location
    page = admin.get(answer.location).get_data(as_text=True)
    assert "Entered the 2027 working calendar (revision 1): deadlines not yet ended will be recomputed" in page
    assert 'data-source="official" data-revision="1"' in page and f"entered by {ADMIN}" in page
    for day in ("2027-02-05", "2027-02-09", "2027-02-12"):
        assert _day(page, day)["kind"] == "holiday", day
    assert _day(page, "2027-02-20") == {"kind": "makeup_workday", "name": None}
    assert re.search(rf'<li class="card" data-revision="1" data-entered-by="{ADMIN}">', page)
    assert "Make-up workdays (调休) and moved days cannot be estimated" not in page
    # The API of this same service answers the entry (as every service's does).
    api = routing.client.get("/api/v1/calendar/2027", headers=routing.auth("officer", OFFICER_1)).get_json()
    assert (api["source"], api["estimated"], api["revision"], api["entered_by"]) == ("official", False, 1, ADMIN)
    assert api["workdays"] == ["2027-02-20", "2027-09-26", "2027-10-09"]
    assert [f"2027-02-{d:02d}" for d in range(5, 13)] == [d for d in api["holidays"] if d.startswith("2027-02")]
    days = _store(routing).history(2027)[0].holidays
    assert len(days) == 1 + 8 + 1 + 3 + 1 + 1 + 7 and date(2027, 10, 7) in days
    # The audit reads it as ranges.
    audit = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Working calendar entered: 2027" in audit
    assert re.search(r'<strong>Days off</strong>:\s*<span class="before">\(none\)</span>\s*→ <span class="after">'
                     r'2027-01-01, 2027-02-05–2027-02-12, 2027-04-05, 2027-05-01–2027-05-03', audit)
    # Entering again is editing: the form now holds the official days; the history keeps both entries.
    again = admin.post("/admin/calendar/2027", data={"csrf_token": token, "holidays": HOLIDAYS, "workdays": ""})
    assert again.status_code == 302 and _store(routing).revision() == 2
    page = admin.get("/admin/calendar?year=2027&lang=en").get_data(as_text=True)
    assert re.findall(r'data-revision="(\d)" data-entered-by', page) == ["2", "1"]
    assert re.search(r'<textarea id="c-workdays"[^>]*></textarea>', page)
    assert "2027-02-05..2027-02-12" in re.search(r'<textarea id="c-holidays"[^>]*>([^<]*)<', page)[1].splitlines()


@pytest.mark.parametrize(("holidays", "workdays", "refused"), [
    (HOLIDAYS, "2027-02-22", {"workdays": "2027-02-22 is a weekday"}),  # a Monday as a make-up workday
    (HOLIDAYS + "\n2026-12-31", WORKDAYS, {"holidays": "2026-12-31 not in 2027"}),
    (HOLIDAYS, "2027-02-06", {"workdays": "2027-02-06 also listed as holidays"}),
    ("", WORKDAYS, {"holidays": "none given"}),
    ("2027-02-12..2027-02-05", "", {"holidays": "“2027-02-12..2027-02-05”: a range runs forward"}),
    ("2027-02-30", "next saturday", {"holidays": "“2027-02-30” is not a date",
                                     "workdays": "“next saturday” is not a date"}),
])
def test_a_refused_entry_names_its_field_keeps_what_was_typed_and_changes_nothing(
        routing: Routing, admin: Any, holidays: str, workdays: str, refused: dict[str, str]) -> None:
    token = _csrf(admin, "/admin/calendar?year=2027")
    answer = admin.post("/admin/calendar/2027?lang=en", data={"csrf_token": token, "holidays": holidays,
                                                              "workdays": workdays})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422, page
    assert "Some fields need fixing." in page
    for name, words in refused.items():
        error = re.search(rf'<div class="error" id="e-{name}" data-error-for="{name}">(.*?)</div>', page, re.S)
        assert error and words in error[1], (name, page)
        assert re.search(rf'<textarea id="c-{name}"[^>]*aria-invalid="true"', page)
    for name in {"holidays", "workdays"} - set(refused):
        assert re.search(rf'<div class="error" id="e-{name}" data-error-for="{name}" hidden>', page)
    typed = re.search(r'<textarea id="c-holidays"[^>]*>([^<]*)</textarea>', page)[1]
    assert typed.strip() == holidays.replace("&", "&amp;").strip()
    assert _store(routing).revision() == 0 and _calendar(routing).year_source(2027) == "estimate"
    assert 'data-source="estimate"' in page


def test_only_an_admin_opens_or_enters_the_calendar(routing: Routing, admin: Any, supervisor: Any) -> None:
    officer = _client(routing, "officer", OFFICER_1)
    assert officer.get("/admin/calendar?lang=en").status_code == 403
    token = _csrf(supervisor, "/supervisor")
    refused = supervisor.post("/admin/calendar/2027", data={"csrf_token": token, "holidays": HOLIDAYS})
    assert refused.status_code == 403
    no_token = admin.post("/admin/calendar/2027", data={"holidays": HOLIDAYS})
    assert no_token.status_code == 400
    assert routing.client.application.test_client().get("/admin/calendar").status_code == 302  # to the sign-in
    assert _store(routing).revision() == 0


def test_the_banner_shows_while_a_coming_year_is_estimated_and_not_after_its_entry(
        routing: Routing, admin: Any, supervisor: Any) -> None:
    pages = {"admin": (admin, ("/admin", "/admin/accounts", "/admin/roster", "/admin/tokens", "/admin/audit",
                               "/admin/calendar")),
             "supervisor": (supervisor, ("/supervisor", f"/supervisor/officers/{OFFICER_1}",
                                         "/supervisor/rates/resolution_rate"))}

    def banners() -> dict[str, list[str]]:
        shown: dict[str, list[str]] = {}
        for role, (client, paths) in pages.items():
            for path in paths:
                answer = client.get(f"{path}?lang=en")
                assert answer.status_code == 200, (path, answer.get_data(as_text=True))
                page = answer.get_data(as_text=True)
                found = re.search(r'data-estimated-years="([\d ]*)"', page)
                shown[path] = found[1].split() if found else []
                if found:
                    assert BANNER in page, path
                    linked = re.search(rf'href="[^"]*/admin/calendar\?year={found[1].split()[0]}"', page) is not None
                    assert linked is (role == "admin"), path  # only an admin can enter it
        return shown

    expected = [str(y) for y in _estimated(routing)]
    assert set(map(tuple, banners().values())) == {tuple(expected)}
    today = datetime.now(SHANGHAI).date()
    if today.year == 2026 and today + timedelta(days=60) >= date(2027, 1, 1):
        assert expected == ["2027"]  # the situation the banner was made for (its zh words in the catalogue)
    _store(routing).enter(2027, [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 13))], [date(2027, 2, 20)],
                          ADMIN)
    _calendar(routing).refresh()
    after = [str(y) for y in _estimated(routing)]
    assert "2027" not in after
    assert set(map(tuple, banners().values())) == {tuple(after)}


def test_the_banner_comes_from_one_helper(routing: Routing, admin: Any, supervisor: Any,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(routing.client.application.jinja_env.globals, "estimated_calendar_years", lambda: [2031])
    for client, path in ((admin, "/admin/roster"), (supervisor, "/supervisor")):
        page = client.get(f"{path}?lang=en").get_data(as_text=True)
        assert "The 2031 working calendar is an estimate: enter the State Council's notice" in page, path
