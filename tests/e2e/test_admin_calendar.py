"""The admin desk's working calendar in a real Chromium (issue 16 points 2 and 4): 2027, estimated, is entered on
the page from the notice's ranges, and every service then answers it as official.

Screenshots of the page after the entry, at 1280 and 360 px: docs/screenshots/admin-calendar-*.png.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite
from tests.e2e.test_accessibility import check
from tests.e2e.test_admin import _admin, _fits, shoot

# A made-up notice of the usual shape, typed as the notice gives it: ranges, commas, one a line.
HOLIDAYS = "2027-01-01\n2027-02-05..2027-02-12\n2027-04-05, 2027-05-01~2027-05-03\n2027-06-09\n2027-09-15\n" \
           "2027-10-01..2027-10-07"
WORKDAYS = "2027-02-20, 2027-09-26\n2027-10-09"


def test_the_admin_enters_2027_on_the_calendar_page_and_it_becomes_official(browser: Any,
                                                                             running: RunningSuite) -> None:
    context, page = _admin(browser, running)
    try:
        page.goto(running.url("routing", "/admin/calendar?year=2027"))
        facts = page.locator("section[data-source]")
        if facts.get_attribute("data-source") == "estimate":  # the suite's first entry of 2027 (not a rerun)
            assert page.locator("[data-part='estimate-note']").is_visible()
            banner = page.locator(".calendar-banner a[href$='/admin/calendar?year=2027']")
            assert banner.text_content().strip() == "2027 年日历为估算，请录入国务院办公厅通知"
        cell = page.locator("td[data-date='2027-02-05']")
        assert (cell.get_attribute("data-kind"), cell.get_attribute("title")) == ("holiday", "春节")
        page.set_viewport_size(PHONE)
        assert check(page, "admin-calendar/zh") == []
        page.set_viewport_size(DESKTOP)

        page.fill("#c-holidays", HOLIDAYS)
        page.fill("#c-workdays", WORKDAYS)
        page.click("form[action='/admin/calendar/2027'] button[type=submit]")  # its confirmation is accepted
        page.wait_for_url("**entered=**")
        revision = int(page.locator("section[data-source]").get_attribute("data-revision"))
        assert page.locator("section[data-source]").get_attribute("data-source") == "official"
        assert page.locator("#result [role=status]").text_content().strip() == (
            f"已录入 2027 年日历（第 {revision} 版），未结束的时限将按新日历重新计算")
        assert page.locator("td[data-date='2027-02-20']").get_attribute("data-kind") == "makeup_workday"
        assert page.locator("td[data-date='2027-02-12']").get_attribute("data-kind") == "holiday"
        assert page.locator(".calendar-banner a[href$='/admin/calendar?year=2027']").count() == 0
        assert page.locator(f"li[data-revision='{revision}'][data-entered-by='admin-01']").count() == 1

        # Every service follows the platform store within a second: sla, which times the clocks, too.
        for service in ("routing", "sla"):
            running.wait(lambda s=service: running.api(s, "/api/v1/calendar/2027", "admin")[1].get("source")
                         == "official", what=f"{service} to follow the entry")
        status, year = running.api("sla", "/api/v1/calendar/2027", "admin")
        assert status == 200 and (year["revision"], year["entered_by"]) == (revision, "admin-01")
        assert year["workdays"] == ["2027-02-20", "2027-09-26", "2027-10-09"]

        page.set_viewport_size(PHONE)
        assert _fits(page) and check(page, "admin-calendar-entered/zh") == []
        page.set_viewport_size(DESKTOP)
        shoot(page, "calendar")
    finally:
        context.close()
