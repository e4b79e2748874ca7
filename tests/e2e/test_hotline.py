"""The 12345 hotline desk in Chromium: the agent logs a call (the enterprise found by name), sees "分派中" and
then the department specialist's name without a reload; answers "where is my demand?" by credit code and opens
the timeline with its deadlines; after the specialist resolves it, makes the 回访 call and records 满意, which
routing takes as the enterprise's feedback. Screenshots go to docs/screenshots/hotline-*.png."""

from __future__ import annotations

import time
from typing import Any

from shared.auth import issue_token
from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, signed_in
from tests.e2e.test_accessibility import check
from tests.helpers import enterprise

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
SPECIALIST = ("spec-tax", "钟月华")  # the tax department's specialist in deploy/roster.yaml
LANG = "?lang=zh_Hans_CN"


def shoot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=True)


def _assignment(running: RunningSuite, demand_id: str) -> dict[str, Any] | None:
    status, body = running.api("routing", f"/api/v1/demands/{demand_id}/assignment", "supervisor")
    return body if status == 200 else None


def test_the_hotline_agent_logs_a_call_answers_where_it_is_and_makes_the_follow_up_call(
        browser: Any, running: RunningSuite) -> None:
    ent = enterprise("wujiaochang")
    title = f"来电：发票系统无法登录（{time.time_ns() % 10_000:04d}）"
    context, page = signed_in(browser, running, "hotline_agent", DESKTOP, lang="zh_Hans_CN")
    problems: list[str] = []
    try:
        # 1. Log the call: the enterprise found by part of its name fills the code, the name and the street.
        page.goto(running.url("intake", "/hotline" + LANG))
        page.fill("#lookup", ent["name"][2:6])
        page.click(f"#lookup-results button:has-text('{ent['uscc']}')")
        assert page.input_value("#f-enterprise-uscc") == ent["uscc"]
        assert page.input_value("#f-enterprise-name") == ent["name"]
        assert page.input_value("#f-street") == "wujiaochang"
        page.fill("#f-enterprise-contact_name", "李会计")
        page.fill("#f-enterprise-contact_phone", "13912345678")
        page.select_option("#f-category", "taxation")
        page.fill("#f-title", title)
        page.fill("#f-description", "企业来电反映：电子发票系统无法登录，请税务部门协助。")
        shoot(page, "hotline-call")
        page.click("#call-form button[type=submit]")
        page.wait_for_selector("#result")
        holder = page.locator("#result [data-part=holder]")
        # Routing usually has not answered yet (分派中); on a quick pass it already has.
        assert "分派中" in holder.inner_text() or SPECIALIST[1] in holder.inner_text(), holder.inner_text()
        shoot(page, "hotline-assigning")
        demand_id = page.url.split("filed=", 1)[1].split("&", 1)[0]

        # The panel refreshes by itself (no reload) once routing's assignment reaches intake.
        page.wait_for_function("name => document.querySelector('#result [data-part=holder]').textContent"
                               ".includes(name)", arg=SPECIALIST[1], timeout=30_000)
        assignment = running.wait(lambda: _assignment(running, demand_id), 30, "routing's assignment")
        assert (assignment["officer_id"], assignment["rule"]) == (SPECIALIST[0], "hotline_department_specialist")
        assert "分派中" not in holder.inner_text()
        shoot(page, "hotline-assigned")

        # 2. "Where is my demand?" by credit code, at phone width; the demand's timeline and deadlines.
        page.set_viewport_size(PHONE)
        page.click("nav.desk-nav a[href='/hotline/search']")
        page.fill("#q", ent["uscc"])
        page.click("form[role=search] button[type=submit]")
        card = page.locator(f"li.card[data-demand-id='{demand_id}']")
        assert title in card.inner_text() and SPECIALIST[1] in card.inner_text()
        assert ent["name"] in card.inner_text()
        problems += check(page, "hotline-search")
        shoot(page, "hotline-search")
        card.locator("a").click()
        page.wait_for_selector("ol.timeline li")
        assert page.locator("ol.timeline li").count() >= 2  # filed, assigned
        assert page.locator(".clock").count() >= 1, page.content()  # routing's clocks, through the macro
        assert page.locator("form[action$='/feedback']").count() == 0  # nothing to ask before it is resolved
        problems += check(page, "hotline-demand")
        shoot(page, "hotline-demand")
        page.set_viewport_size(DESKTOP)

        # 3. The specialist resolves it (through the API, as its holder) ...
        running.tokens["hotline-specialist"] = issue_token("officer", SPECIALIST[0], None,
                                                           secret=running.settings.jwt_secret)
        path = f"/api/v1/demands/{demand_id}"
        assert running.api("routing", f"{path}/acknowledge", "hotline-specialist", {})[0] == 200
        status, body = running.api("routing", f"{path}/resolve", "hotline-specialist",
                                   {"outcome": "resolved", "note": "已协助企业重置电子税务局账户。"})
        assert status == 200, body
        running.wait(lambda: running.api("intake", path, "hotline_agent")[1].get("status") == "resolved", 30,
                     "intake to learn the demand was resolved")

        # ... and the agent finds it among the 回访 calls to make, and records 满意 (nothing pre-selected).
        page.goto(running.url("intake", "/hotline/callbacks" + LANG))
        page.locator(f"li.card[data-demand-id='{demand_id}'] a").click()
        form = page.locator("form[action$='/feedback']")
        assert form.locator("input[name=satisfaction]:checked").count() == 0
        form.locator("input[name=satisfaction][value=satisfied]").check()
        form.locator("#f-comment").fill("企业表示问题已解决，感谢及时处理。")
        shoot(page, "hotline-follow-up")
        form.locator("button[type=submit]").click()
        page.wait_for_selector("p.notice.ok[role=status]")
        assert "满意" in page.locator("p.notice.ok[role=status]").inner_text()
        state = running.wait(lambda: (a := _assignment(running, demand_id)) and a["state"] == "feedback_received"
                             and a, 30, "routing to record the feedback")
        assert state["satisfaction"] == "satisfied"
        shoot(page, "hotline-recorded")
        running.wait(lambda: demand_id not in page.goto(running.url("intake", "/hotline/callbacks" + LANG)).text(),
                     30, "the demand to leave the 回访 list")
    finally:
        context.close()
    assert not problems, "\n".join(problems)
