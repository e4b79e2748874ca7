"""The officer's desk in Chromium (issue 14 items 4-6, 8): find a demand by its enterprise, resolve it, find it
again under 办结待回访, close it once the enterprise's feedback is in, and find it under 已结案; the countdowns
speak business time. Screenshots ``docs/screenshots/officer-*.png`` at 1280 and 360 px."""

from __future__ import annotations

import random
import uuid
from typing import Any

from shared.config import PROJECT_ROOT
from shared.validation import uscc_with_check
from tests.e2e.conftest import DESKTOP, PHONE, USERS, RunningSuite, signed_in
from tests.e2e.test_accessibility import check
from tests.e2e.test_photo import _account_for
from tests.helpers import demand_body
from tests.signin import PASSWORD

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"


def shoot(page: Any, name: str) -> None:
    """A screenshot of the screen as the officer sees it, for docs/pages.md."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"officer-{name}.png"), full_page=False)


def _file(running: RunningSuite, run: str) -> tuple[str, str, str]:
    """A demand of an enterprise the registry does not know (so its name is this test's own); its id, title,
    enterprise name."""
    name, title = f"上海澜{run}科技有限公司", f"厂房用电增容 {run}"
    uscc = uscc_with_check("91310110MA" + "".join(random.choices("0123456789", k=7)))
    body = demand_body(title=title, enterprise={"name": name, "uscc": uscc, "contact_name": "王经理",
                                                "contact_phone": "13812345678"})
    status, filed = running.api("intake", "/api/v1/demands", "grid_worker", body)
    assert status == 201, filed
    return filed["id"], title, name


def _holder(running: RunningSuite, demand_id: str) -> str:
    def assigned() -> str | None:
        code, a = running.api("routing", f"/api/v1/demands/{demand_id}/assignment", "supervisor")
        return a.get("officer_id") if code == 200 else None
    return running.wait(assigned, 30, "the demand assigned")


def _sign_in(browser: Any, running: RunningSuite, officer_id: str) -> tuple[Any, Any]:
    username = running.usernames["officer"] if officer_id == USERS["officer"][0] else _account_for(running, officer_id)
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(running.url("routing", "/signin?lang=zh_Hans_CN"))
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()
    return context, page


def test_the_officer_finds_resolves_and_closes_a_demand(browser: Any, running: RunningSuite) -> None:
    run = uuid.uuid4().hex[:6]
    demand_id, title, name = _file(running, run)
    other_id, other_title, _ = _file(running, run + "b")  # stays open: the phone's to-do list shows it
    context, page = _sign_in(browser, running, _holder(running, demand_id))
    try:
        # 待办: a search by part of the enterprise's name finds it; the desktop table row names the enterprise and
        # counts down in working days.
        page.goto(running.url("routing", "/officer"))
        page.fill("#f-q", name[2:10])
        page.click("form.filters button[type=submit]")
        row = page.locator(".desk-table tbody tr", has_text=title)
        row.wait_for()
        assert page.locator(".desk-table tbody tr").count() == 1
        assert page.locator(".phone-list").is_hidden()
        assert name in row.locator("td.enterprise").inner_text()
        assert "工作日" in row.inner_text(), row.inner_text()
        assert check(page, "officer-search (1280)") == []
        shoot(page, "search")

        # The demand: its clocks in business time with the deadline's weekday (English too); nothing pre-chosen.
        row.locator("a").click()
        page.wait_for_selector("#clocks .clock")
        clocks = page.inner_text("#clocks")
        assert "个工作日" in clocks and "截止" in clocks and "（周" in clocks, clocks
        page.goto(running.url("routing", f"/officer/demands/{demand_id}?lang=en"))
        assert "working day" in page.inner_text("#clocks"), page.inner_text("#clocks")
        page.goto(running.url("routing", f"/officer/demands/{demand_id}?lang=zh_Hans_CN"))
        assert page.locator("[name=outcome]:checked").count() == 0
        if page.locator("#f-to-department").count():
            assert page.input_value("#f-to-department") == ""
        shoot(page, "demand")

        # 办结 without an outcome is refused with a clear word; with one, the resolution clock stops at once.
        page.fill("#f-resolve-note", "已协调供电公司完成增容。")
        page.click("form[action$='/resolve'] button[type=submit]")
        page.wait_for_selector("#e-outcome:not([hidden])")
        assert "请从选项中选择" in page.inner_text("#e-outcome"), page.inner_text("#e-outcome")
        page.check("form[action$='/resolve'] [name=outcome][value=resolved]")
        page.fill("#f-resolve-note", "已协调供电公司完成增容。")
        page.click("form[action$='/resolve'] button[type=submit]")
        page.wait_for_selector("#result .notice.ok")
        assert "剩余" not in page.inner_text("#clocks")  # no countdown runs on a resolved demand

        # 办结待回访 lists it; the enterprise's feedback comes in (its grid worker records it).
        page.goto(running.url("routing", "/officer?tab=resolved"))
        page.locator(".desk-table tbody tr", has_text=title).wait_for()
        shoot(page, "resolved")
        status, body = running.api("routing", f"/api/v1/demands/{demand_id}/feedback", "grid_worker",
                                   {"satisfaction": "satisfied"})
        assert status == 200, body
        page.reload()
        assert "满意" in page.locator(".desk-table tbody tr", has_text=title).inner_text()

        # 结案 asks first; accepted, the demand moves to 已结案.
        page.locator(".desk-table tbody tr", has_text=title).locator("a").click()
        asked: list[str] = []
        page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
        page.click("form[action$='/close'] button[type=submit]")
        page.wait_for_selector("#result .notice.ok")
        assert asked and "结案" in asked[0], asked
        page.goto(running.url("routing", "/officer?tab=closed"))
        page.locator(".desk-table tbody tr", has_text=title).wait_for()
        assert page.locator(".desk-table tbody tr", has_text=title).locator("td.enterprise").inner_text() == name
        shoot(page, "closed")

        # A phone: cards, each with the enterprise's name.
        page.set_viewport_size(PHONE)
        page.goto(running.url("routing", f"/officer?tab=closed&q={name[2:10]}"))
        card = page.locator(".phone-list .card", has_text=title)
        card.wait_for()
        assert page.locator(".desk-table").is_hidden()
        assert card.locator(".enterprise").inner_text() == name
        assert check(page, "officer-closed (360)") == []
        shoot(page, "phone-closed")
        if _holder(running, other_id) == _holder(running, demand_id):
            page.goto(running.url("routing", f"/officer?q={run}"))
            page.locator(".phone-list .card", has_text=other_title).wait_for()
        assert check(page, "officer-queue (360)") == []
        shoot(page, "phone-queue")
    finally:
        context.close()


TICK = """([attrs, ago]) => {
    const el = document.createElement('div');
    el.innerHTML = '<span class="urgency-word"></span><span class="left"></span><span class="paused-note"></span>';
    Object.entries(attrs).forEach(([k, v]) => el.setAttribute('data-' + k, v));
    el.setAttribute('data-base', String(Date.now() - ago * 1000));
    document.body.appendChild(el);
    window.Yangpu.tick();
    const out = [el.querySelector('.left').textContent, el.querySelector('.urgency-word').textContent,
                 el.querySelector('.paused-note').hidden];
    el.remove();
    return out;
}"""


def test_a_clock_ticks_only_in_working_time_and_words_it_as_the_server_does(browser: Any,
                                                                            running: RunningSuite) -> None:
    context, page = signed_in(browser, running, "officer", PHONE, lang="en")
    try:
        page.goto(running.url("routing", "/officer?lang=en"))
        words = {"seconds-per-day": "28800", "soon-seconds": "5760", "left-label": "{t} left",
                 "overdue-label": "overdue by {t}", "unit-day": "{n} working day", "unit-days": "{n} working days",
                 "unit-hm": "{n} of working time", "unit-ms": "{n} of working time", "unit-s": "{n} s",
                 "word-ok": "On track", "word-soon": "Due soon", "word-overdue": "Overdue", "seconds-only": "0"}

        def tick(left: float, working: bool, window: float, ago: float, **extra: str) -> list[Any]:
            attrs = {**words, "business-left": str(left), "working": "1" if working else "0",
                     "window-seconds": str(window), **extra}
            return page.evaluate(TICK, [attrs, ago])

        # (Values sit half a second from a boundary: the page takes a few milliseconds to tick.)
        # Working time: the 5 s since rendering run (1.5 working days and a minute are still 1.5 days, the
        # tenths rounded down); a window that ended after 2 s counts 2 s, then the clock stands, paused.
        assert tick(43_260, True, 3600, 5) == ["1.5 working days left", "On track", True]
        assert tick(3_605, True, 2, 5) == ["1:00 of working time left", "Due soon", False]  # stopped: paused
        # Outside working time the value stands until working time starts (after 3 s here), then it runs.
        assert tick(28_800, False, 3600, 5) == ["1 working day left", "On track", False]
        assert tick(65.5, False, 3, 5) == ["01:03 of working time left", "Due soon", True]
        assert tick(10, True, 3600, 15) == ["overdue by 00:05 of working time", "Overdue", True]
        assert tick(50.5, True, 3600, 5, **{"seconds-only": "1"}) == ["45 s left", "Due soon", True]
    finally:
        context.close()
