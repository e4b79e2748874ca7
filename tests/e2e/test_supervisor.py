"""The supervisor's desk in Chromium against the real processes: the figures and their words are the API's,
a rate opens the demands behind it, the monthly CSV downloads, and breach and escalation cards say which
demand (title), whose (enterprise), who holds it (officer's name) and why.

One demand is escalated by the officer holding it with a reason; another is filed as raised 20 days ago, so
sla breaches both its clocks at once and routing escalates it by itself (超时自动升级).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from shared.auth import issue_token
from shared.calendar import SHANGHAI
from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, PHONE, STREET, RunningSuite, signed_in
from tests.helpers import demand_body

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
RATES = ("first_response_compliance", "on_time_resolution_rate", "resolution_rate")
# The Chinese words of each rate's numerator and denominator (shared/webkit/templates/pages/macros.html).
WORDS = {
    "first_response_compliance": "{den} 件中的 {num} 件按时首次响应（计入已首次响应或首次响应已超时的诉求）",
    "on_time_resolution_rate": "{den} 件中的 {num} 件按时办结（计入已办结或办结时限已过的诉求）",
    "resolution_rate": "{den} 件已办结的诉求中 {num} 件结果为“已解决”",
}
REASON = "企业多次来电，需街道协调用地问题"


def shoot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=False)


def officer_names(running: RunningSuite) -> dict[str, str]:
    roster = yaml.safe_load(Path(running.settings.roster_path).read_text(encoding="utf-8"))
    return {o["id"]: o["name"] for o in roster["officers"]}


def file_demand(running: RunningSuite, title: str, **extra: Any) -> tuple[str, str, str]:
    """File a demand as the grid worker; (its id, its enterprise's name, the officer routing gave it to)."""
    body = demand_body(title=title, **extra)
    status, created = running.api("intake", "/api/v1/demands", "grid_worker", body)
    assert status == 201, created

    def holder() -> str | None:
        code, a = running.api("routing", f"/api/v1/demands/{created['id']}/assignment", "supervisor")
        return a.get("officer_id") if code == 200 else None

    return created["id"], body["enterprise"]["name"], running.wait(holder, 30, "the demand to be assigned")


def as_officer(running: RunningSuite, officer_id: str) -> str:
    """The role key of a token for ``officer_id`` (whichever officer routing chose)."""
    key = f"officer:{officer_id}"
    running.tokens[key] = issue_token("officer", officer_id, None, secret=running.settings.jwt_secret)
    return key


def figures_on(page: Any) -> dict[str, Any]:
    """The all-time and this month's figures as the page shows them: demands and each rate's parts and words."""
    shown: dict[str, Any] = {}
    for period in ("all", "month"):
        shown[period] = {"demands": int(re.search(r"\d+", page.inner_text(f"[data-figure='demands-{period}']"))[0])}
        for name in RATES:
            box = page.locator(f"[data-period='{period}'] [data-figure='{name}']")
            shown[period][name] = (int(box.locator("[data-part=numerator]").inner_text()),
                                   int(box.locator("[data-part=denominator]").inner_text()),
                                   box.locator("[data-part=words]").inner_text())
    return shown


def figures_of(running: RunningSuite) -> dict[str, Any]:
    """The same figures from ``/api/v1/sla/summary``, as the supervisor asks them."""
    month = datetime.now(SHANGHAI).date().replace(day=1)  # the page's "this month", in Shanghai time
    out: dict[str, Any] = {}
    for period, query in (("all", ""), ("month", f"?from={month.isoformat()}")):
        status, body = running.api("sla", f"/api/v1/sla/summary{query}", "supervisor")
        assert status == 200, body
        out[period] = {"demands": body["demands"]}
        for name in RATES:
            r = body[name]
            out[period][name] = (r["numerator"], r["denominator"],
                                 WORDS[name].format(num=r["numerator"], den=r["denominator"]))
    return out


def same_figures(page: Any, running: RunningSuite) -> dict[str, Any] | None:
    """The page's figures when they are the API's (asked just before and just after the page loaded)."""
    before = figures_of(running)
    page.reload()
    shown = figures_on(page)
    if before != figures_of(running):
        return None  # an event landed meanwhile: look again
    for period, figures in before.items():
        if shown[period]["demands"] != figures["demands"]:
            return None
        for name in RATES:
            num, den, words = figures[name]
            got_num, got_den, got_words = shown[period][name]
            if (got_num, got_den) != (num, den) or words not in got_words:
                return None
    return shown


def card(page: Any, kind: str, demand_id: str) -> Any:
    return page.locator(f"[data-card='{kind}'][data-demand-id='{demand_id}']")


def test_the_supervisor_reads_the_apis_figures_in_words_and_sees_who_and_why(browser: Any,
                                                                              running: RunningSuite) -> None:
    names = officer_names(running)
    tag = uuid.uuid4().hex[:6]
    asked, asked_enterprise, asked_holder = file_demand(running, f"用地协调 {tag}")
    status, body = running.api("routing", f"/api/v1/demands/{asked}/escalate", as_officer(running, asked_holder),
                               {"reason": REASON})
    assert status == 200, body
    raised = (datetime.now(UTC) - timedelta(days=20)).isoformat()
    late, late_enterprise, late_holder = file_demand(running, f"逾期未办 {tag}", reported_at=raised)

    def breached() -> bool:
        code, found = running.api("sla", "/api/v1/sla/breaches?limit=200", "supervisor")
        return code == 200 and {"first_response", "resolution"} <= {b["kind"] for b in found["items"]
                                                                     if b["demand_id"] == late}

    running.wait(breached, 60, "sla to breach the late demand's clocks")

    ctx, page = signed_in(browser, running, "supervisor", DESKTOP, lang="zh_Hans_CN")
    page.goto(running.url("routing", "/supervisor"))
    # 我的待办 is not offered to a supervisor: what needs them is this page.
    assert page.locator("nav.main-nav a", has_text="我的待办").count() == 0

    # Escalations: title, enterprise, the holder's name and the reason given (or routing's own).
    running.wait(lambda: page.reload() or card(page, "escalation", late).count() == 1, 60,
                 "routing to escalate the breached demand by itself")
    mine = card(page, "escalation", asked)
    assert f"用地协调 {tag}" in mine.inner_text() and asked_enterprise in mine.inner_text()
    assert mine.locator("[data-part=officer]").inner_text() == names[asked_holder]
    assert REASON in mine.locator("[data-part=reason]").inner_text()
    automatic = card(page, "escalation", late)
    assert "超时自动升级" in automatic.locator("[data-part=reason]").inner_text()
    assert late_enterprise in automatic.inner_text()

    # Breaches: which demand, whose, who holds it, which deadline passed.
    breach = card(page, "breach", late).first
    assert f"逾期未办 {tag}" in breach.inner_text() and late_enterprise in breach.inner_text()
    assert breach.locator("[data-part=officer]").inner_text() == names[late_holder]
    assert "时限已过" in breach.locator("[data-part=reason]").inner_text()

    # The work by officer names the officers, not their roster ids.
    row = page.locator(f"tr[data-officer='{asked_holder}']")
    assert row.locator("th").inner_text() == names[asked_holder]
    assert int(row.locator("[data-part=open]").inner_text()) >= 1

    # Every figure is the API's, with the words saying what it counts.
    shown = running.wait(lambda: same_figures(page, running), 60, "the page's figures to be the API's")
    assert shown["all"]["demands"] >= 2
    page.locator(".figures").first.scroll_into_view_if_needed()
    shoot(page, "supervisor-overview")

    # The monthly CSV downloads from the page (the browser has no bearer token: the page session serves it).
    with page.expect_download() as download:
        page.click("[data-part=csv]")
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert [r["street"] for r in rows] == [STREET]
    month = figures_of(running)["month"]
    assert int(rows[0]["demands"]) == month["demands"]
    assert int(rows[0]["first_response_counted"]) == month["first_response_compliance"][1]

    # A rate's drill-down: the demands it counts, missed first, each a link to the demand.
    page.click("[data-period='all'] [data-figure='first_response_compliance'] [data-part=drill]")
    page.wait_for_selector("[data-list=rate-demands]")
    first = page.locator("[data-list=rate-demands] > li").first
    assert first.get_attribute("data-counted-as") == "missed"
    missed = page.locator(f"[data-list=rate-demands] > li[data-demand-id='{late}']")
    assert f"逾期未办 {tag}" in missed.inner_text()
    shoot(page, "supervisor-rate")
    missed.locator("h3 a").click()
    page.wait_for_url(f"**/officer/demands/{late}*")
    assert f"逾期未办 {tag}" in page.inner_text("main")
    ctx.close()

    # The same desk on a phone.
    ctx, phone = signed_in(browser, running, "supervisor", PHONE, lang="zh_Hans_CN")
    phone.goto(running.url("routing", "/supervisor"))
    shoot(phone, "supervisor-phone")
    phone.locator("[data-period='month'] [data-figure='resolution_rate'] [data-part=drill]").click()
    phone.wait_for_load_state()
    shoot(phone, "supervisor-rate-phone")
    phone.goto(running.url("routing", f"/supervisor/officers/{asked_holder}?show=open"))
    assert phone.locator(f"li[data-demand-id='{asked}']").count() == 1
    shoot(phone, "supervisor-officer-phone")
    ctx.close()
