"""Every page, in both languages: no serious or critical axe-core violation, no horizontal scroll at 360 px,
a working skip link; and a screenshot of each at phone and desktop width under var/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, PHONE, RunningSuite, screenshot, signed_in
from tests.helpers import demand_body

LANGS = ("zh_Hans_CN", "en")
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def demand_id(running: RunningSuite) -> str:
    """A demand filed through the API and already assigned, so every page has something to show."""
    status, body = running.api("intake", "/api/v1/demands", "grid_worker", demand_body(title="无障碍检查用诉求"))
    assert status == 201, body

    def assigned() -> bool:
        code, a = running.api("routing", f"/api/v1/demands/{body['id']}/assignment", "supervisor")
        return code == 200 and a["officer_id"] == "com-wujiaochang-1"

    running.wait(assigned, 30, "the demand to be assigned")
    return body["id"]


def pages(demand: str) -> list[tuple[str, str, str, str | None]]:
    return [
        ("signin", "intake", "/signin", None),
        ("grid-new", "intake", "/grid", "grid_worker"),
        ("grid-mine", "intake", "/grid/mine", "grid_worker"),
        ("grid-demand", "intake", f"/grid/demands/{demand}", "grid_worker"),
        ("enterprise-link", "intake", f"/demands/{demand}/enterprise-link", "grid_worker"),
        ("hotline-desk", "intake", "/hotline", "hotline_agent"),
        ("hotline-search", "intake", "/hotline/search", "hotline_agent"),
        ("hotline-demand", "intake", f"/hotline/demands/{demand}", "hotline_agent"),
        ("hotline-callbacks", "intake", "/hotline/callbacks", "hotline_agent"),
        ("helpdesk", "intake", "/helpdesk", "helpdesk_agent"),
        ("helpdesk-new", "intake", "/helpdesk/new", "helpdesk_agent"),
        ("officer-queue", "routing", "/officer", "officer"),
        ("officer-demand", "routing", f"/officer/demands/{demand}", "officer"),
        ("officer-resolved", "routing", "/officer?tab=resolved", "officer"),
        ("officer-closed", "routing", "/officer?tab=closed", "officer"),
        ("supervisor", "routing", "/supervisor", "supervisor"),
        ("supervisor-officer", "routing", "/supervisor/officers/com-wujiaochang-1", "supervisor"),
        ("supervisor-demand", "routing", f"/officer/demands/{demand}", "supervisor"),  # reject, merge forms
        ("supervisor-rate", "routing", "/supervisor/rates/first_response_compliance", "supervisor"),
        ("compliance", "sla", "/compliance", "supervisor"),
        ("admin", "routing", "/admin", "admin"),
        ("admin-accounts", "routing", "/admin/accounts", "admin"),
        ("admin-roster", "routing", "/admin/roster", "admin"),
        ("admin-tokens", "routing", "/admin/tokens", "admin"),
        ("admin-audit", "routing", "/admin/audit", "admin"),
    ]


def check(page: Any, name: str) -> list[str]:
    """Problems of the page as shown now (phone width): axe violations and horizontal overflow."""
    from axe_playwright_python.sync_playwright import Axe

    problems = []
    results = Axe().run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in BLOCKING:
            targets = [node["target"] for node in violation["nodes"]][:3]
            problems.append(f"{name}: {violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    if page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"):
        problems.append(f"{name}: scrolls sideways at 360 px")
    return problems


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_accessible_and_fits_a_phone(browser: Any, running: RunningSuite, demand_id: str,
                                                  lang: str) -> None:
    problems: list[str] = []
    contexts: dict[str | None, Any] = {}
    try:
        for name, service, path, role in pages(demand_id):
            if role not in contexts:
                if role is None:
                    contexts[role] = browser.new_context(viewport=PHONE, locale="zh-CN")
                    contexts[role].new_page()
                else:
                    contexts[role] = signed_in(browser, running, role, PHONE, lang=lang)[0]
            page = contexts[role].pages[0]
            page.set_viewport_size(PHONE)
            response = page.goto(running.url(service, path) + ("&" if "?" in path else "?") + f"lang={lang}")
            assert response.status == 200, f"{name}/{lang}: HTTP {response.status}"
            assert page.get_attribute("html", "lang") == ("zh-Hans-CN" if lang.startswith("zh") else "en")
            problems += check(page, f"{name}/{lang}")
            screenshot(page, f"{name}-{lang}-phone")
            if name == "grid-new":  # the form as it looks with every field wrong
                page.click("#demand-form button[type=submit]")
                page.wait_for_selector("[data-error-for='title']:not([hidden])")
                problems += check(page, f"{name}-errors/{lang}")
                screenshot(page, f"{name}-errors-{lang}-phone")
            page.set_viewport_size(DESKTOP)
            screenshot(page, f"{name}-{lang}-desktop")
    finally:
        for ctx in contexts.values():
            ctx.close()
    assert not problems, "\n".join(problems)


def test_the_check_finds_what_it_should(browser: Any, running: RunningSuite) -> None:
    """A page with an unlabelled field and a too-wide box must fail, or the check above proves nothing."""
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    page.set_content('<html lang="en"><body><main><h1>x</h1><input type="text">'
                     '<div style="width:800px">wide</div></main></body></html>')
    problems = check(page, "broken")
    assert any("label" in p for p in problems) and any("sideways" in p for p in problems)
    ctx.close()


def test_keyboard_first_stop_is_the_skip_link(browser: Any, running: RunningSuite) -> None:
    ctx, page = signed_in(browser, running, "officer", PHONE)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    ctx.close()
