"""The admin's desk in a real Chromium (issue 14 item 3): an account made on the page signs in with its one-time
password, and the change is in the audit; an officer taken off duty on the roster page is in the audit too.

Screenshots of the desk at 1280 and 360 px go to docs/screenshots/admin-*.png (docs/pages.md shows them).
"""

from __future__ import annotations

import uuid
from typing import Any

from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, signed_in

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
ADMIN = "admin-01"
OFF_DUTY = "com-siping-2"  # an officer no other browser test relies on; put back on duty at the end


def shoot(page: Any, name: str) -> None:
    """The page at 1280 px and at 360 px (the viewport is restored)."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    for width, viewport in (("1280", DESKTOP), ("360", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(DOCS_SHOTS / f"admin-{name}-{width}.png"), full_page=False)
    page.set_viewport_size(size)


def _fits(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def _admin(browser: Any, running: RunningSuite) -> tuple[Any, Any]:
    context, page = signed_in(browser, running, "admin", DESKTOP, lang="zh_Hans_CN")
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations (sign-out, off duty)
    return context, page


def test_an_account_made_on_the_desk_signs_in_and_is_in_the_audit(browser: Any, running: RunningSuite) -> None:
    username = f"grid.{uuid.uuid4().hex[:6]}"
    context, page = _admin(browser, running)
    try:
        assert page.url.startswith(running.url("routing", "/admin"))  # the admin's home
        shoot(page, "desk")
        page.goto(running.url("routing", "/admin/accounts"))
        page.fill("#n-username", username)
        page.select_option("#n-role", "grid_worker")
        page.select_option("#n-street", "wujiaochang")
        page.fill("#n-email", f"{username}@example.cn")
        page.click("form[action='/admin/accounts'] button[type=submit]")
        password = page.text_content("#one-time-password").strip()
        assert len(password) >= 10
        assert page.get_attribute(f"li[data-username='{username}']", "data-state") == "must_change"
        shoot(page, "accounts")
        page.click("form[action='/signout'] button[type=submit]")
        page.wait_for_url("**/signin**")
    finally:
        context.close()

    worker = browser.new_context(viewport=PHONE, locale="zh-CN")
    worker.set_default_timeout(15_000)
    try:
        phone = worker.new_page()
        phone.goto(running.url("intake", "/signin"))
        phone.fill("#username", username)
        phone.fill("#password", password)
        phone.click("form[action='/signin'] button[type=submit]")
        phone.wait_for_url("**/account/password**")  # a one-time password must be changed first
        phone.fill("#f-current", password)
        phone.fill("#f-new", "Wujiaochang-Grid-2026")
        phone.fill("#f-again", "Wujiaochang-Grid-2026")
        phone.click("form[action^='/account/password'] button[type=submit]")
        phone.wait_for_url(running.url("intake", "/grid") + "**")
        assert phone.is_visible("#demand-form")
    finally:
        worker.close()

    context, page = _admin(browser, running)
    try:
        page.goto(running.url("routing", "/admin/audit"))
        entry = page.locator(f"li[data-action='account.create'][data-target='{username}']")
        assert entry.count() == 1
        assert entry.get_attribute("data-actor") == ADMIN
        role = entry.locator("li[data-field='role']")
        assert role.locator(".before").text_content().strip() == "（无）"  # before: the account did not exist
        assert role.locator(".after").text_content().strip() == "网格员"
        assert entry.locator("li[data-field='street'] .after").text_content().strip() == "五角场街道"
        assert password not in page.content()
        assert _fits(page)
        shoot(page, "audit")
    finally:
        context.close()


def test_an_officer_taken_off_duty_on_the_roster_page_is_in_the_audit(browser: Any, running: RunningSuite) -> None:
    context, page = _admin(browser, running)
    try:
        page.goto(running.url("routing", f"/admin/roster#officer-{OFF_DUTY}"))
        card = page.locator(f"#officer-{OFF_DUTY}")
        assert card.get_attribute("data-on-duty") == "true"
        card.locator("form[action$='/duty'] button[type=submit]").click()
        page.wait_for_url("**done=off_duty**")
        assert page.locator(f"#officer-{OFF_DUTY}").get_attribute("data-on-duty") == "false"
        status, officer = running.api("routing", f"/api/v1/officers/{OFF_DUTY}", "admin")
        assert status == 200 and officer["on_duty"] is False
        shoot(page, "roster")
        page.goto(running.url("routing", "/admin/audit"))
        entry = page.locator(f"li[data-action='officer.off_duty'][data-target='{OFF_DUTY}']").first
        assert entry.get_attribute("data-actor") == ADMIN
        assert entry.locator("li[data-field='on_duty'] .before").text_content().strip() == "是"
        assert entry.locator("li[data-field='on_duty'] .after").text_content().strip() == "否"
        page.goto(running.url("routing", "/admin/roster"))
        page.locator(f"#officer-{OFF_DUTY} form[action$='/duty'] button[type=submit]").click()  # back on duty
        page.wait_for_url("**done=on_duty**")
        assert page.locator(f"#officer-{OFF_DUTY}").get_attribute("data-on-duty") == "true"
        page.goto(running.url("routing", "/admin/tokens"))
        shoot(page, "tokens")
    finally:
        context.close()
