"""The further lifecycle (issue 15) in Chromium against the real processes.

An officer asks for more working days and the street supervisor approves them from the street page: the
resolution deadline the officer's page shows moves later (the deadlines are compared, not the countdown, which
does not run outside working hours). An officer returns a demand (退单) with a reason code: routing re-decides
without them, so it lands with another officer of the street, or with its supervisor when nobody else may take
it now. An ``unresolvable`` resolution always waits for review: the supervisor sends it back with a reason and
the officer has it again. Screenshots for docs/pages.md go to docs/screenshots/lifecycle-*.png.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, USERS, RunningSuite, signed_in
from tests.helpers import demand_body

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
OFFICER = USERS["officer"][0]  # com-wujiaochang-1: on duty around the clock, every category
SUPERVISOR = USERS["supervisor"][0]


def shoot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"lifecycle-{name}.png"), full_page=False)


def assignment(running: RunningSuite, demand_id: str) -> dict[str, Any]:
    status, body = running.api("routing", f"/api/v1/demands/{demand_id}/assignment", "supervisor")
    return body if status == 200 else {}


def file_for_the_officer(running: RunningSuite, title: str) -> str:
    """A taxation demand of the street filed by its grid worker: routing gives it to com-wujiaochang-1 (the
    only commissioner with the skill, on duty around the clock; not a key enterprise, so no chief officer)."""
    status, created = running.api("intake", "/api/v1/demands", "grid_worker", demand_body(title=title))
    assert status == 201, created
    running.wait(lambda: assignment(running, created["id"]).get("officer_id") == OFFICER, 30,
                 "the demand to reach the officer")
    running.wait(lambda: {c["kind"] for c in assignment(running, created["id"]).get("clocks", [])}
                 == {"first_response", "resolution"}, 30, "sla's clocks")
    return created["id"]


def resolution_deadline(page: Any) -> datetime:
    """The resolution clock's deadline as the (English) page words it: 'due Mon 2026-12-07 14:59'."""
    text = page.locator("#clocks .clock", has_text="Resolution").inner_text()
    found = re.search(r"due \w{3} (\d{4}-\d{2}-\d{2} \d{2}:\d{2})", text)
    assert found, text
    return datetime.strptime(found[1], "%Y-%m-%d %H:%M")


def test_an_approved_extension_moves_the_resolution_deadline_later(browser: Any, running: RunningSuite) -> None:
    demand_id = file_for_the_officer(running, f"厂房改建审批需延期 {uuid.uuid4().hex[:6]}")
    officer_ctx, officer = signed_in(browser, running, "officer", DESKTOP, lang="en")
    supervisor_ctx, supervisor = signed_in(browser, running, "supervisor", DESKTOP, lang="zh_Hans_CN")
    try:
        path = running.url("routing", f"/officer/demands/{demand_id}")
        officer.goto(path)
        officer.click("form[action$='/acknowledge'] button[type=submit]")
        officer.wait_for_selector("#result .notice.ok")
        before = resolution_deadline(officer)

        # The request: more working days and why; nothing is decided until the supervisor says so.
        officer.click("details:has(form[action$='/request-extension']) > summary")
        officer.fill("#f-extension-days", "2")
        officer.click("form[action$='/request-extension'] button[type=submit]")
        officer.wait_for_selector("#e-request-extension-reason:not([hidden])")  # the reason is required
        officer.fill("#f-extension-days", "2")
        officer.fill("#f-extension-reason", "需等待区规划资源局出具意见")
        officer.locator("form[action$='/request-extension']").scroll_into_view_if_needed()
        shoot(officer, "extension-request")
        officer.click("form[action$='/request-extension'] button[type=submit]")
        officer.wait_for_selector("#result .notice.ok")
        assert "2 more working days" in officer.inner_text("[data-part=extension-request]")
        assert resolution_deadline(officer) == before

        # The supervisor's street page lists the request first; approving it answers on the same page.
        supervisor.goto(running.url("routing", "/supervisor"))
        card = supervisor.locator(f"[data-card=extension][data-demand-id='{demand_id}']")
        card.wait_for()
        assert "延长 2 个工作日" in card.inner_text() and "需等待区规划资源局出具意见" in card.inner_text()
        shoot(supervisor, "supervisor-decisions")
        card.locator("form[action$='/approve-extension'] button[type=submit]").click()
        supervisor.wait_for_selector("#result .notice.ok")
        assert "批准延期" in supervisor.inner_text("#result")
        assert supervisor.locator(f"[data-card=extension][data-demand-id='{demand_id}']").count() == 0

        # sla moves the target by two working days; the officer's page shows the later deadline.
        def later() -> datetime | None:
            officer.goto(path)
            after = resolution_deadline(officer)
            return after if after > before else None

        after = running.wait(later, 45, "the resolution deadline to move later")
        assert (after - before).total_seconds() >= 86_400, (before, after)  # two working days: a day or more
        assert assignment(running, demand_id)["extension_count"] == 1
    finally:
        officer_ctx.close()
        supervisor_ctx.close()


def test_a_returned_demand_lands_with_another_officer(browser: Any, running: RunningSuite) -> None:
    demand_id = file_for_the_officer(running, f"应属其他街道的诉求 {uuid.uuid4().hex[:6]}")
    context, page = signed_in(browser, running, "officer", DESKTOP, lang="zh_Hans_CN")
    try:
        page.goto(running.url("routing", f"/officer/demands/{demand_id}"))
        page.click("details:has(form[action$='/return']) > summary")
        assert page.input_value("#f-return-code") == ""  # nothing chosen in advance
        options = page.locator("#f-return-code option").all_inner_texts()
        assert len(options) == 4 and all(o.strip() for o in options), options  # labelled reasons
        page.select_option("#f-return-code", "wrong_street")
        page.fill("#f-return-note", "企业注册地在殷行街道")
        shoot(page, "return")
        confirmations: list[str] = []

        def accept(dialog: Any) -> None:
            confirmations.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
        page.click("form[action$='/return'] button[type=submit]")
        page.wait_for_load_state()
        assert confirmations and "退单" in confirmations[0], confirmations

        view = running.wait(lambda: (a := assignment(running, demand_id)).get("officer_id") not in (None, OFFICER)
                            and a, 30, "the demand to land with another holder")
        assert OFFICER in view["returned_by"]
        # Another commissioner with the skill on shift, else the street's supervisor (escalated) takes it.
        assert view["rule"] == "returned", view
        assert view["officer_id"] == SUPERVISOR or not view["escalated"], view
        # It has left the officer's to-do list.
        page.goto(running.url("routing", "/officer"))
        assert f"/officer/demands/{demand_id}" not in page.content()
    finally:
        context.close()


def test_the_supervisor_sends_an_unresolvable_resolution_back(browser: Any, running: RunningSuite) -> None:
    demand_id = file_for_the_officer(running, f"超出职权的诉求 {uuid.uuid4().hex[:6]}")
    officer_ctx, officer = signed_in(browser, running, "officer", DESKTOP, lang="zh_Hans_CN")
    supervisor_ctx, supervisor = signed_in(browser, running, "supervisor", DESKTOP, lang="zh_Hans_CN")
    try:
        path = running.url("routing", f"/officer/demands/{demand_id}")
        officer.goto(path)
        officer.check("form[action$='/resolve'] [name=outcome][value=unresolvable]")
        officer.fill("#f-resolve-note", "属法院管辖，街道无法处理")
        officer.click("form[action$='/resolve'] button[type=submit]")
        officer.wait_for_selector("#result .notice.ok")
        assert assignment(running, demand_id)["state"] == "under_review"

        supervisor.goto(running.url("routing", "/supervisor"))
        card = supervisor.locator(f"[data-card=review][data-demand-id='{demand_id}']")
        card.wait_for()
        assert "属法院管辖，街道无法处理" in card.inner_text()
        send_back = card.locator("form[action$='/send-back']")
        send_back.locator("input[name=reason]").fill("请先联系区法院联络员确认，再答复企业")
        shoot(supervisor, "review")
        send_back.locator("button[type=submit]").click()
        supervisor.wait_for_selector("#result .notice.ok")
        assert "审核退回" in supervisor.inner_text("#result")

        running.wait(lambda: assignment(running, demand_id).get("state") == "acknowledged", 30,
                     "the demand to be open again")
        officer.goto(path)
        assert officer.locator("form[action$='/resolve']").count() == 1  # the holder works on it again
        assert assignment(running, demand_id)["officer_id"] == OFFICER
    finally:
        officer_ctx.close()
        supervisor_ctx.close()
