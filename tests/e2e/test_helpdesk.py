"""The online help desk in Chromium: an online demand appears in the desk's live list with its countdown in
seconds without a reload, is answered in one click within the minute (routing's state becomes
``acknowledged``) and leaves the list; a new online demand is logged through the desk's form; the row turns
into an alert (colour, word, beep) at 80 % of the minute.

The stack's calendar is the real one: outside working hours the business clock does not run, so the
countdown is checked for its shape ("剩余 60 秒", "已超时 5 秒") and the words that say whether it runs,
never for a value that depends on the hour. Screenshots go to docs/screenshots/helpdesk-*.png.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, signed_in
from tests.e2e.test_accessibility import check
from tests.helpers import demand_body, enterprise

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
COUNTDOWN = re.compile(r"^(剩余|已超时) \d+ 秒$")
STOPPED = "非工作时间，计时暂停"
FOCUSED_ROW = "(document.activeElement.closest('.hd-row') || {dataset: {}}).dataset.demandId"


def shoot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"helpdesk-{name}.png"), full_page=False)


def file_online(running: RunningSuite, title: str) -> str:
    status, body = running.api("intake", "/api/v1/demands", "helpdesk_agent",
                               demand_body(channel="online_helpdesk", title=title))
    assert status == 201, body
    return body["id"]


def routing_state(running: RunningSuite, demand_id: str) -> str | None:
    status, body = running.api("routing", f"/api/v1/demands/{demand_id}/assignment", "supervisor")
    return body["state"] if status == 200 else None


def test_an_online_demand_appears_live_and_is_answered_in_one_click(browser: Any, running: RunningSuite) -> None:
    context, page = signed_in(browser, running, "helpdesk_agent", DESKTOP, lang="zh_Hans_CN")
    try:
        page.goto(running.url("intake", "/helpdesk?lang=zh_Hans_CN"))
        page.evaluate("window.__notReloaded = true")
        title = f"在线咨询：发票 {uuid.uuid4().hex[:6]}"
        filed_at = time.monotonic()
        demand_id = file_online(running, title)
        row = page.locator(f".hd-row[data-demand-id='{demand_id}']")
        row.wait_for(timeout=10_000)  # through the 2 s poll
        assert page.evaluate("window.__notReloaded === true"), "the page reloaded"
        assert title in row.inner_text()
        left = row.locator(".hd-clock .left")
        page.wait_for_function("el => el.textContent.trim() !== ''", arg=left.element_handle())
        assert COUNTDOWN.match(left.inner_text().strip()), left.inner_text()
        word = row.locator(".hd-clock .urgency-word").inner_text()
        if word == STOPPED:  # outside working hours: the clock waits, and says from when it runs again
            assert "起继续计时" in row.inner_text()
            assert row.get_attribute("data-state") == "idle"
        else:  # it ticks each second, down from at most 60
            first = int(re.search(r"\d+", left.inner_text())[0])
            page.wait_for_timeout(2_100)
            second = int(re.search(r"\d+", left.inner_text())[0])
            assert first <= 60 and second != first
            assert "须在" in row.inner_text()
        shoot(page, "desk")

        # Routing must hold the demand before it can be answered (it routes within a second or two).
        running.wait(lambda: routing_state(running, demand_id) == "assigned", what="routing assigned it")
        button = row.get_by_role("button", name="已答复（停止计时）")
        button.focus()
        # Another demand arrives: the list is rendered again, and the agent's focus stays on their button.
        other = file_online(running, f"在线咨询：社保 {uuid.uuid4().hex[:6]}")
        page.locator(f".hd-row[data-demand-id='{other}']").wait_for(timeout=10_000)
        assert page.evaluate(FOCUSED_ROW) == demand_id
        button.click()
        result = row.locator(".hd-result")
        result.filter(has_text="已答复：首次响应计时已停止。").wait_for()
        assert row.get_attribute("data-answered") == "true"
        assert time.monotonic() - filed_at < 60, "not answered within the minute"
        shoot(page, "answered")
        running.wait(lambda: routing_state(running, demand_id) == "acknowledged", what="routing acknowledged it")
        row.wait_for(state="detached", timeout=20_000)  # intake learned it; the next refresh drops the row
        assert page.evaluate("window.__notReloaded === true")
        # Answering again is refused in words, not with a 500.
        status, body = running.api("routing", f"/api/v1/demands/{demand_id}/acknowledge", "helpdesk_agent", {})
        assert status == 409, body
    finally:
        context.close()


def test_the_desk_logs_an_online_demand_on_a_phone(browser: Any, running: RunningSuite) -> None:
    context, page = signed_in(browser, running, "helpdesk_agent", PHONE, lang="zh_Hans_CN")
    try:
        page.goto(running.url("intake", "/helpdesk?lang=zh_Hans_CN"))
        page.get_by_role("link", name="登记在线诉求").first.click()
        page.wait_for_url("**/helpdesk/new")
        ent = enterprise("dinghai")
        page.fill("#lookup", ent["name"][2:6])
        page.locator("#lookup-results button", has_text=ent["uscc"]).first.click()
        assert page.input_value("[name='enterprise.uscc']") == ent["uscc"]
        assert page.input_value("[name=street]") == "dinghai"  # the registry's street, chosen for the agent
        title = f"在线登记：社保咨询 {uuid.uuid4().hex[:6]}"
        page.fill("[name='enterprise.contact_name']", "李女士")
        page.fill("[name='enterprise.contact_phone']", "13912345678")
        page.select_option("[name=category]", "employment")
        page.fill("[name=title]", title)
        page.fill("[name=description]", "企业在线咨询员工社保转移手续。")
        shoot(page, "new-phone")
        page.get_by_role("button", name="登记这件在线诉求").click()
        page.wait_for_url("**/helpdesk?filed=*")
        assert "已登记：诉求" in page.locator("main").inner_text()
        stored = running.wait(lambda: titled_anywhere(running, title), what="the demand stored")
        assert (stored["channel"], stored["street"]) == ("online_helpdesk", "dinghai")
        page.locator(f".hd-row[data-demand-id='{stored['id']}']").wait_for()
        shoot(page, "desk-phone")
        assert check(page, "helpdesk-phone") == []
    finally:
        context.close()


def titled_anywhere(running: RunningSuite, title: str) -> dict[str, Any] | None:
    status, body = running.api("intake", "/api/v1/demands?limit=100&channel=online_helpdesk", "helpdesk_agent")
    assert status == 200, body
    found = [d for d in body["items"] if d["title"] == title]
    return found[0] if found else None


ALERT_PAGE = """<!doctype html><html lang="zh-Hans-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="{css}"><script src="{js}" defer></script></head><body><main>
<div id="helpdesk" data-server-now="{now}" data-msg-sound-on="提示音已开启" data-msg-sound-off="提示音已关闭">
<button type="button" id="sound-toggle" aria-pressed="false">开启提示音</button>
<p id="helpdesk-status" role="status"></p>
<div id="helpdesk-list"><ul class="cards"><li class="card hd-row urgency-ok" data-demand-id="d-1" data-state="ok">
<p class="clock hd-clock" data-zero-ms="{zero}" data-pause-ms="{pause}" data-target="60" data-alert-left="12"
 data-left-label="剩余 {{n}} 秒" data-overdue-label="已超时 {{n}} 秒" data-word-ok="未超时"
 data-word-alert="即将超时，请立即答复" data-word-overdue="超时未答复" data-word-paused="非工作时间，计时暂停">
<span class="urgency-word"></span> <span class="left"></span></p></li></ul></div></div></main></body></html>"""


def test_a_row_turns_into_an_alert_with_a_word_and_a_beep_at_80_percent(browser: Any, running: RunningSuite) -> None:
    """The script on a list whose clock has 16 s left (the server renders the same attributes): whatever
    the hour, the alert at 48 s of the minute is shown in colour and words and beeps once, sound turned on."""
    context = browser.new_context(viewport=DESKTOP)
    try:
        page = context.new_page()
        now_ms = int(time.time() * 1000)
        page.set_content(ALERT_PAGE.format(
            css=running.url("intake", "/pages-static/pages.css"),
            js=running.url("intake", "/helpdesk-static/helpdesk.js"),
            now=now_ms, zero=now_ms + 16_000, pause=now_ms + 3_600_000))
        row = page.locator(".hd-row")
        page.wait_for_function("document.querySelector('.hd-row .left').textContent !== ''")
        assert row.get_attribute("data-state") == "ok" and "未超时" in row.inner_text()
        page.click("#sound-toggle")  # the gesture browsers require before a page may play sound
        assert page.get_attribute("#sound-toggle", "aria-pressed") == "true"
        assert page.inner_text("#helpdesk-status") == "提示音已开启"
        beeps_before = int(page.get_attribute("#helpdesk", "data-beeps") or 0)  # the toggle's own test beep
        page.wait_for_function("document.querySelector('.hd-row').dataset.state === 'alert'", timeout=8_000)
        assert "即将超时，请立即答复" in row.inner_text()
        assert "urgency-soon" in row.get_attribute("class")
        assert re.search(r"剩余 1[0-2] 秒", row.inner_text())
        page.wait_for_timeout(1_200)
        assert int(page.get_attribute("#helpdesk", "data-beeps")) == beeps_before + 1  # once per demand
        shoot(page, "alert")
    finally:
        context.close()
