"""The enterprise's own view through its private link (issue 14 item 9), in Chromium.

The grid worker opens the demand on the phone and gets the link (QR code shown); a browser with no sign-in
opens it and sees the status and the officer; the officer resolves the demand; the enterprise's page asks for
the rating (nothing chosen in advance), 满意 is sent, and routing records the enterprise's feedback. Axe-checked
in both languages at 360 px; screenshots ``docs/screenshots/enterprise-*.png`` at 360 and 1280 px.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, signed_in
from tests.e2e.test_accessibility import check
from tests.e2e.test_grid_offline import DOCS_SHOTS
from tests.helpers import demand_body

OFFICER = "com-wujiaochang-1"  # 谢秀英, office phone 021-65080039 (deploy/roster.yaml)


def shoot(page: Any, name: str, whole: bool = True) -> None:
    """The page at 360 px and at 1280 px, for docs/pages.md: the whole page, or the screen as seen (a page with
    the grid worker's bottom tab bar, which a whole-page picture would show in the middle of the page)."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    for width, viewport in (("360", PHONE), ("1280", DESKTOP)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(DOCS_SHOTS / f"{name}-{width}.png"), full_page=whole)
    page.set_viewport_size(PHONE)


def _held_by_the_officer(running: RunningSuite, demand_id: str) -> None:
    """The demand assigned, and held by the officer whose token the test acts with."""
    path = f"/api/v1/demands/{demand_id}/assignment"
    holder = running.wait(lambda: (r := running.api("routing", path, "supervisor"))[0] == 200 and r[1]["officer_id"],
                          what="the demand assigned")
    if holder != OFFICER:
        status, body = running.api("routing", f"/api/v1/demands/{demand_id}/transfer", "supervisor",
                                   {"to_officer": OFFICER, "reason": "由街道专员办理"})
        assert status == 200, body
    running.wait(lambda: running.api("intake", f"/api/v1/demands/{demand_id}", "supervisor")[1]["assignee_id"]
                 == OFFICER, what="intake to know the holder")


def test_the_enterprise_follows_its_demand_and_rates_it_through_its_link(browser: Any, running: RunningSuite) -> None:
    status, demand = running.api("intake", "/api/v1/demands", "grid_worker", demand_body(title="企业链接演示"))
    assert status == 201, demand
    demand_id = demand["id"]
    _held_by_the_officer(running, demand_id)
    problems: list[str] = []

    # The grid worker opens the demand on the phone and gets the link: a QR code and the short address.
    worker, page = signed_in(browser, running, "grid_worker", PHONE, lang="zh_Hans_CN")
    try:
        page.goto(running.url("intake", f"/grid/demands/{demand_id}"))
        page.click("text=给企业的链接")
        page.click("button:has-text('生成链接')")
        page.wait_for_selector("img.qr")
        assert page.get_attribute("img.qr", "src").startswith("data:image/svg+xml")
        link = page.get_attribute("a.short-url", "href")
        assert link and "/e/" in link
        problems += check(page, "enterprise-link/zh")
        shoot(page, "enterprise-link", whole=False)
    finally:
        worker.close()

    # A browser with no sign-in opens it: status in words and the officer, no staff id, no reporter's phone.
    visitor = browser.new_context(viewport=PHONE, locale="zh-CN")
    visitor.set_default_timeout(15_000)
    try:
        page = visitor.new_page()
        answer = page.goto(link)
        assert answer.status == 200 and answer.headers["referrer-policy"] == "no-referrer"
        text = page.inner_text("main")
        assert "企业链接演示" in text and "谢秀英" in text and "021-65080039" in text
        assert "已分派" in text or "专员" in text
        assert OFFICER not in page.content() and "13812345678" not in page.content()
        assert page.locator("input[name=satisfaction]").count() == 0
        for lang in ("en", "zh_Hans_CN"):
            page.goto(f"{link}?lang={lang}")
            problems += check(page, f"enterprise/{lang}")
        shoot(page, "enterprise-status")

        # The officer answers it; the enterprise's page then asks for the rating.
        for action, body in (("acknowledge", {}), ("resolve", {"outcome": "resolved", "note": "已协助企业恢复开票"})):
            status, result = running.api("routing", f"/api/v1/demands/{demand_id}/{action}", "officer", body)
            assert status == 200, result
        running.wait(lambda: running.api("intake", f"/api/v1/demands/{demand_id}", "supervisor")[1]["status"]
                     == "resolved", what="intake to learn the demand was resolved")
        page.goto(link)
        radios = page.locator("input[name=satisfaction]")
        assert radios.count() == 3
        assert not any(radios.nth(i).is_checked() for i in range(3)), "a rating was chosen in advance"
        assert "已协助企业恢复开票" in page.inner_text("main")
        for lang in ("en", "zh_Hans_CN"):
            page.goto(f"{link}?lang={lang}")
            problems += check(page, f"enterprise-rating/{lang}")
        shoot(page, "enterprise-rating")

        page.check("input[value=satisfied]")
        page.fill("#f-comment", "办得很快，谢谢")
        page.click("button:has-text('提交评价')")
        page.wait_for_selector("text=谢谢，您的评价已记录。")
        assert page.locator("input[name=satisfaction]").count() == 0
        shoot(page, "enterprise-thanks")
    finally:
        visitor.close()

    state = running.wait(lambda: (r := running.api("routing", f"/api/v1/demands/{demand_id}/assignment",
                                                   "supervisor"))[1]["state"] == "feedback_received" and r[1],
                         what="routing to record the enterprise's feedback")
    assert state["satisfaction"] == "satisfied"
    assert not problems, "\n".join(problems)
