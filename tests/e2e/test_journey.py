"""The journey of one demand through the pages, in a real browser against the real processes.

A grid worker files a demand on a phone (once online, once with the network cut and restored: the draft is
sent once and exactly one demand exists), the assigned officer sees it appear in their queue, acknowledges
and resolves it, and the supervisor sees the street's figures change.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, screenshot, signed_in, titled
from tests.helpers import enterprise


def street_figures(page: Any) -> dict[str, str]:
    """The supervisor page's all-time figures: demands, and each rate's numerator/denominator."""
    figures = {"demands": page.inner_text("[data-figure='demands-all']")}
    for name in ("first_response_compliance", "resolution_rate"):
        box = page.locator(f"[data-period='all'] [data-figure='{name}']")
        figures[name] = (f"{box.locator('[data-part=numerator]').inner_text()}/"
                         f"{box.locator('[data-part=denominator]').inner_text()}")
    return figures


def fill_demand(page: Any, title: str) -> None:
    ent = enterprise()
    page.fill("#lookup", ent["name"][2:6])
    page.locator("#lookup-results button", has_text=ent["name"]).first.click()
    assert page.input_value("[name='enterprise.uscc']") == ent["uscc"]
    page.fill("[name='enterprise.contact_name']", "王经理")
    page.fill("[name='enterprise.contact_phone']", "13812345678")
    page.select_option("[name=category]", "taxation")
    page.check("[name=complexity][value=simple]")
    page.fill("[name=title]", title)
    page.fill("[name=description]", "企业反映电子发票系统无法登录，需要税务专员协助。")


def test_a_demand_from_the_phone_to_the_supervisor(browser: Any, running: RunningSuite) -> None:
    run = uuid.uuid4().hex[:6]
    online_title, offline_title = f"发票无法开具 {run}", f"断网时登记 {run}"

    boss_ctx, boss = signed_in(browser, running, "supervisor", DESKTOP)
    boss.goto(running.url("routing", "/supervisor"))
    before = street_figures(boss)

    # The grid worker, on a phone: sign-in lands on the form, street preset.
    grid_ctx, grid = signed_in(browser, running, "grid_worker", PHONE)
    assert grid.url.startswith(running.url("intake", "/grid"))
    fill_demand(grid, online_title)
    grid.click("#demand-form button[type=submit]")
    grid.wait_for_selector("#result.ok:not([hidden])")
    grid.click("#result [data-part=again]")  # 继续登记: the form again, the enterprise kept

    # The network goes; the draft stays on the phone; it is sent once the network returns.
    fill_demand(grid, offline_title)
    grid_ctx.set_offline(True)
    grid.click("#demand-form button[type=submit]")
    grid.wait_for_selector("#result.warn:not([hidden])")
    queue_key = "yangpu.drafts.grid-wujiaochang-01"
    drafts = grid.evaluate(f"JSON.parse(localStorage.getItem('{queue_key}'))")
    assert [d["fields"]["title"] for d in drafts] == [offline_title]
    assert grid.is_visible("#drafts-section")
    screenshot(grid, "journey-offline-draft-phone")
    grid_ctx.set_offline(False)
    running.wait(lambda: grid.evaluate(f"JSON.parse(localStorage.getItem('{queue_key}')).length === 0"), 30,
                 "the offline draft to be sent")
    grid.wait_for_selector("#sync-status.ok")
    # A retry of the same draft (say its answer was lost) files nothing new.
    replay = grid.evaluate("""([key, fields]) => Yangpu.post('/grid/demands', fields, {'Idempotency-Key': key})""",
                           [drafts[0]["key"], drafts[0]["fields"]])
    assert replay["status"] == 200 and replay["body"]["replayed"] is True
    assert len(titled(running, offline_title)) == 1
    assert len(titled(running, online_title)) == 1

    # "My demands" lists both with their status.
    grid.goto(running.url("intake", "/grid/mine"))
    for title in (online_title, offline_title):
        assert grid.locator(".card", has_text=title).count() == 1

    # The officer's queue shows the demand by itself (the list refreshes), with its clocks.
    officer_ctx, officer = signed_in(browser, running, "officer", DESKTOP)
    assert officer.url.startswith(running.url("routing", "/officer"))
    row = officer.locator(".desk-table tbody tr", has_text=online_title)  # a table row per demand on a desk
    row.wait_for(timeout=30_000)
    assert row.locator(".clock[data-business-left]").count() >= 1
    row.locator("a").first.click()
    officer.wait_for_selector("h1")
    assert officer.inner_text("h1") == online_title
    # Only what the state allows: a fresh assignment can be acknowledged, not closed or fed back.
    buttons = officer.locator("#actions-h ~ div form button[type=submit]").all_inner_texts()
    assert "确认受理" in buttons and "结案" not in buttons and "记录回访" not in buttons
    officer.click("form[action$='/acknowledge'] button")
    officer.wait_for_selector("#result .notice.ok")
    assert "已受理" in officer.inner_text("main p:has(.pill)")
    assert officer.locator("form[action$='/acknowledge']").count() == 0
    officer.check("form[action$='/resolve'] [name=outcome][value=resolved]")
    officer.fill("#f-resolve-note", "已协助企业重置电子税务局账户。")
    officer.click("form[action$='/resolve'] button[type=submit]")
    officer.wait_for_selector("#result .notice.ok")
    assert "已办结" in officer.inner_text("main p:has(.pill)")

    # The supervisor's figures follow: two more demands, one more answered and one more resolved.
    def changed() -> dict[str, str] | None:
        boss.reload()
        now = street_figures(boss)
        return now if now["resolution_rate"] != before["resolution_rate"] else None

    after = running.wait(changed, 30, "the street's resolution figures to change")
    assert after["demands"] != before["demands"]
    assert after["first_response_compliance"] != before["first_response_compliance"]
    for ctx in (boss_ctx, grid_ctx, officer_ctx):
        ctx.close()


def test_field_errors_beside_the_field_in_the_users_language(browser: Any, running: RunningSuite) -> None:
    for lang, expected in (("zh_Hans_CN", "校验不通过"), ("en", "does not check out")):
        ctx, page = signed_in(browser, running, "grid_worker", PHONE, lang=lang)
        fill_demand(page, "校验码错误")
        uscc = page.input_value("[name='enterprise.uscc']")
        wrong = uscc[:17] + ("0" if uscc[17] != "0" else "1")
        page.fill("[name='enterprise.uscc']", wrong)
        page.click("#demand-form button[type=submit]")
        error = page.locator("[data-error-for='enterprise.uscc']")
        error.wait_for()
        assert expected in error.inner_text()
        assert page.get_attribute("[name='enterprise.uscc']", "aria-invalid") == "true"
        assert page.evaluate("document.activeElement.name") == "enterprise.uscc"
        # Nothing was queued: the draft stays in the form for fixing.
        queued = "JSON.parse(localStorage.getItem('yangpu.drafts.grid-wujiaochang-01') || '[]').length"
        assert page.evaluate(queued) == 0
        ctx.close()
