"""The grid worker's phone app in a basement (issue 13), in Chromium at 360 px against the real processes.

Opens, reloads and navigates with no network (service worker); a demand filed offline is sent once from
another page when the network returns; a refused draft survives 修改 and a reload; the result screen is in
view; validation is one round, with the server's own rules and words (the JS port agrees with
``shared.validation`` on a table of cases); axe, no sideways scroll and 44 px targets on every screen, whose
screenshots go to ``docs/screenshots/`` for ``docs/pages.md``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from intake_service.http.pages import body_from_form
from intake_service.http.schemas import DemandIn
from shared.config import PROJECT_ROOT
from shared.validation import flatten_errors, phone_problem, text_problem, uscc_problem, uscc_with_check
from tests.e2e.conftest import USERS, RunningSuite, titled
from tests.e2e.test_accessibility import check
from tests.helpers import enterprise

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
QUEUE = f"yangpu.drafts.{USERS['grid_worker'][0]}"
COUNT_QUEUE = f"JSON.parse(localStorage.getItem('{QUEUE}') || '[]').length"
def shoot(page: Any, name: str) -> None:
    """A screenshot of the screen as the worker sees it, for docs/pages.md."""
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=False)


def fill(page: Any, title: str, uscc: str | None = None, name: str | None = None) -> None:
    ent = enterprise()
    page.fill("[name='enterprise.uscc']", uscc or ent["uscc"])
    page.fill("[name='enterprise.name']", ent["name"] if name is None else name)
    page.fill("[name='enterprise.contact_name']", "王经理")
    page.fill("[name='enterprise.contact_phone']", "13812345678")
    page.select_option("[name=category]", "taxation")
    page.fill("[name=title]", title)
    page.fill("[name=description]", "企业反映电子发票系统无法登录，需要税务专员协助。")


def file_demand(page: Any, title: str) -> None:
    """Fill the form, press 提交 and wait for the result screen."""
    fill(page, title)
    page.click("#demand-form button[type=submit]")
    page.wait_for_selector("#result.ok:not([hidden])")


def in_view(page: Any, selector: str) -> bool:
    return page.evaluate("""sel => { const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.top < innerHeight && r.height > 0; }""", selector)


def small_targets(page: Any) -> list[str]:
    """Buttons, fields, tabs and button-like links smaller than 44 × 44 px (inline links in text are exempt)."""
    return page.evaluate("""() => [...document.querySelectorAll(
            'button, .button, input:not([type=hidden]), select, textarea, nav a, nav [aria-current], .choices label')]
        .filter(el => el.offsetParent !== null && !el.closest('[hidden]'))
        .filter(el => { const r = el.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
        .filter(el => !(el.type === 'radio' || el.type === 'checkbox') || !el.closest('label'))
        .map(el => el.outerHTML.slice(0, 80))""")


# --- one round of checks, the server's rules and words --------------------------------------------------

USCC_CASES = ["", "91350100M000100Y43", "91310110MA4PFF8Q3P", "91310110ma4pff8q3p ", "91310110MA4PFF8Q3", "9131011",
              "91310110MA4PFF8Q3X", "91310110MA4PFF8Q30", "91310110MA1G8XIX18", "9131011OMA1G8XXX18",
              "91310110MA1G8X-X18", "9131A110MA1G8XXX18", "91310110MA1G8XXX1Z", "91310110MA1G8XXX1'",
              "９１３１０１１０MA1G8XXX18", "91310110MA4PFF8Q3PX"]
PHONE_CASES = ["", "   ", "13812345678", "138 1234 5678", "+86 138 1234 5678", "8613812345678", "0086-19912345678",
               "021-65432100", "02165432100", "(021) 6543-2100", "+86 21 6543 2100", "021-65432100-8001",
               "021-65432100 ext 8001", "021-65432100 转 12", "0571-8888888", "057188888888", "1381234567",
               "138123456789", "12812345678", "13812345678 ext 12", "65432100", "021-6543210", "021-654321",
               "021-654321000", "021-05432100", "138abc45678", "+1 650 555 0100", "5551234", "0", "+86 0", "---",
               "021-65432100-80012345", "0755 8888 888"]
TEXT_CASES = ["发票", "  ", "a\u0000b", "tab\tok", "\u202eevil", "\u200b\u200b", "\u3164", "ok\u0085", "é", "\u0301"]


def test_the_phone_and_the_server_agree_on_every_check(phone: tuple[Any, Any], running: RunningSuite) -> None:
    """validation.js gives the Python validators' messages exactly; a whole form gives the server's errors."""
    _, page = phone
    for name, cases, python in (("uscc", USCC_CASES, uscc_problem), ("phone", PHONE_CASES, phone_problem),
                                ("text", TEXT_CASES, text_problem)):
        js = page.evaluate(f"cases => cases.map(c => YangpuChecks.{name}(c))", cases)
        expected = [python(c) for c in cases]
        assert js == expected, [(c, j, e) for c, j, e in zip(cases, js, expected, strict=True) if j != e]

    good = uscc_with_check("91310110MA1G8XXX1")
    forms = [
        {},
        {"enterprise.uscc": good[:17] + ("0" if good[17] != "0" else "1"), "enterprise.contact_phone": "12345",
         "title": "x" * 121, "description": "  ", "enterprise.contact_name": "王", "category": "taxation"},
        {"enterprise.uscc": good, "enterprise.contact_phone": "021-654321", "title": "t", "description": "d",
         "enterprise.contact_name": "\u202e王", "category": "taxation", "grid": "网格 1", "enterprise.name": "x" * 201},
        {"enterprise.uscc": " " + good.lower(), "enterprise.contact_phone": "13812345678", "title": "t",
         "description": "d", "enterprise.contact_name": "王", "category": "nonsense", "complexity": "simple"},
    ]
    choices = ("{category: [...document.querySelectorAll('[name=category] option')].map(o => o.value)"
               ".filter(Boolean), complexity: [...document.querySelectorAll('[name=complexity]')].map(o => o.value)}")
    for values in forms:
        english = page.evaluate(f"v => YangpuChecks.demand(v, {choices})", values)
        try:
            DemandIn().load(body_from_form(values, "wujiaochang"))  # type: ignore[arg-type]
            server: dict[str, list[str]] = {}
        except Exception as exc:  # marshmallow's ValidationError
            server = flatten_errors(exc.messages)  # type: ignore[attr-defined]
        assert english == server, values
        # ... and in the user's language, as the server answers the same form (422, errors by field).
        shown = page.evaluate("v => { const rules = JSON.parse(document.getElementById('demand-form')"
                              ".getAttribute('data-rules')); const e = YangpuChecks.demand(v, " + choices + ");"
                              "const out = {};"
                              "Object.keys(e).forEach(k => out[k] = [...new Set(e[k].map(m => "
                              "YangpuChecks.localize(m, rules)))]); return out; }", values)
        if server:
            answer = page.evaluate("v => Yangpu.post('/grid/demands', v, {'Idempotency-Key': crypto.randomUUID()})",
                                   {**values, "reported_at": ""})
            assert answer["status"] == 422 and answer["body"]["errors"] == shown, (values, answer, shown)


def test_one_round_of_errors_focus_on_the_first_and_nothing_sent(phone: tuple[Any, Any]) -> None:
    _, page = phone
    fill(page, "")
    uscc = page.input_value("[name='enterprise.uscc']")
    page.fill("[name='enterprise.uscc']", uscc[:17] + ("0" if uscc[17] != "0" else "1"))
    page.fill("[name='enterprise.contact_phone']", "1381234")
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.click("#demand-form button[type=submit]")
    for name in ("enterprise.uscc", "enterprise.contact_phone", "title"):
        page.wait_for_selector(f"[data-error-for='{name}']:not([hidden])")
    message = page.inner_text("[data-error-for='enterprise.uscc']")
    assert "校验不通过" in message and uscc[17] not in message.replace("18", "")
    assert page.inner_text("[data-error-for='enterprise.contact_phone']") == "⚠ 手机号码为11位，当前为7位。" or \
        "11" in page.inner_text("[data-error-for='enterprise.contact_phone']")
    assert page.evaluate("document.activeElement.name") == "enterprise.uscc"  # the first in form order
    assert posts == [] and page.evaluate(COUNT_QUEUE) == 0
    assert check(page, "grid-errors") == []
    shoot(page, "grid-errors")


# --- the result screen --------------------------------------------------------------------------------


def test_the_result_screen_is_in_view_and_keeps_the_enterprise(phone: tuple[Any, Any], running: RunningSuite) -> None:
    _, page = phone
    title = f"结果页 {uuid.uuid4().hex[:6]}"
    file_demand(page, title)
    assert "已提交" in page.inner_text("#result h2")
    assert in_view(page, "#result h2") and page.evaluate("document.activeElement.id") == "result-h"
    demand = titled(running, title)[0]
    assert page.inner_text("#result [data-part=number]") == demand["id"].replace("-", "")[:8].upper()
    # Routing assigns within seconds; the screen then names the officer (from the roster, not an id).
    page.wait_for_function("() => !document.querySelector('#result [data-part=officer]').textContent.includes('分派')",
                           timeout=30_000)
    assert "com-" not in page.inner_text("#result [data-part=officer]")
    assert page.inner_text("#result [data-part=deadline]") not in ("", "正在分派")
    assert check(page, "grid-result") == []
    shoot(page, "grid-result")
    page.click("#result [data-part=again]")
    assert page.input_value("[name='enterprise.uscc']") == enterprise()["uscc"]
    assert page.input_value("[name=title]") == "" and page.is_hidden("#result")


# --- offline --------------------------------------------------------------------------------------------


def test_opens_reloads_and_navigates_with_no_network(phone: tuple[Any, Any], running: RunningSuite) -> None:
    context, page = phone
    assert check(page, "grid-new") == [] and small_targets(page) == []
    assert page.is_hidden("#update-bar") and page.is_hidden("#result")  # nothing to offer, nothing filed yet
    shoot(page, "grid-new")
    page.click("nav.tabs a[href$='/grid/mine']")
    page.wait_for_selector("h1")
    context.set_offline(True)
    try:
        page.reload()
        assert page.inner_text("h1") == "我的诉求"
        page.click("nav.tabs a[href$='/grid']")
        page.wait_for_selector("#demand-form")
        page.reload()
        assert page.is_visible("#demand-form") and page.locator("[name=category] option").count() > 10
        page.goto(running.url("intake", "/grid/mine"))
        assert page.inner_text("h1") == "我的诉求"
        # Proof the copy came from the service worker: online this would be the server's "no such demand".
        page.goto(running.url("intake", "/grid/demands/00000000-0000-4000-8000-000000000000"))
        assert page.inner_text("h1") == "我的诉求"
    finally:
        context.set_offline(False)


def test_filed_offline_sent_from_another_page_exactly_once(phone: tuple[Any, Any], running: RunningSuite) -> None:
    context, page = phone
    title = f"地下室登记 {uuid.uuid4().hex[:6]}"
    fill(page, title)
    context.set_offline(True)
    try:
        page.click("#demand-form button[type=submit]")
        page.wait_for_selector("#result.warn:not([hidden])")
        assert "已保存在本机，有网络后自动提交" in page.inner_text("#result h2") and in_view(page, "#result h2")
        assert page.is_hidden("#result [data-part=facts]")  # no number, officer or deadline before it is filed
        assert check(page, "grid-saved") == []
        shoot(page, "grid-saved-offline")
        page.click("nav.tabs a[href$='/grid/mine']")
        page.wait_for_selector("#drafts-section:not([hidden])")
        assert page.locator("#drafts .card", has_text=title).count() == 1
        assert check(page, "grid-mine-waiting") == [] and small_targets(page) == []
        shoot(page, "grid-mine-waiting")
    finally:
        context.set_offline(False)
    page.wait_for_function(f"() => {COUNT_QUEUE} === 0", timeout=30_000)
    page.wait_for_selector("#sync-status.ok")
    assert title in page.inner_text("#sync-status")
    assert len(titled(running, title)) == 1
    page.reload()  # and a later page load sends nothing again
    time.sleep(1)
    assert len(titled(running, title)) == 1


def test_a_refused_draft_is_fixed_in_place_and_survives_a_reload(phone: tuple[Any, Any], running: RunningSuite) -> None:
    """The registry does not know this code and no name was typed: only the server can say so."""
    context, page = phone
    title = f"需修改 {uuid.uuid4().hex[:6]}"
    unknown = uscc_with_check("91310110MA" + uuid.uuid4().hex[:7].upper().translate(str.maketrans("IOSVZ", "12345")))
    fill(page, title, uscc=unknown, name="")
    context.set_offline(True)
    page.click("#demand-form button[type=submit]")
    page.wait_for_selector("#result.warn:not([hidden])")
    context.set_offline(False)
    page.wait_for_selector("#drafts .card.needs-fixing")
    assert "名称" in page.inner_text("#drafts .card.needs-fixing .error")  # what to fix, not only that
    assert page.evaluate(COUNT_QUEUE) == 1
    shoot(page, "grid-needs-fixing")
    page.click("#drafts .card.needs-fixing a.button")
    page.wait_for_selector("[data-error-for='enterprise.name']:not([hidden])")
    assert page.input_value("[name=title]") == title
    page.reload()
    assert page.evaluate(COUNT_QUEUE) == 1
    assert page.input_value("[name=title]") == title
    assert page.is_visible("[data-error-for='enterprise.name']")
    page.fill("[name='enterprise.name']", "杨浦测试新办企业有限公司")
    page.click("#demand-form button[type=submit]")
    page.wait_for_selector("#result.ok:not([hidden])")
    assert page.evaluate(COUNT_QUEUE) == 0 and len(titled(running, title)) == 1


def test_the_demand_page_names_the_officer_and_the_deadline(phone: tuple[Any, Any], running: RunningSuite) -> None:
    _, page = phone
    title = f"承办人 {uuid.uuid4().hex[:6]}"
    file_demand(page, title)
    page.wait_for_function("() => !document.querySelector('#result [data-part=officer]').textContent.includes('分派')",
                           timeout=30_000)
    page.click("#result [data-part=view]")
    page.wait_for_selector(".facts")
    facts = page.inner_text(".facts")
    assert "承办人" in facts and "com-" not in facts and "承诺办结时间" in facts
    assert "021-6508" in facts  # the officer's office phone, from the roster
    assert "13812345678" in page.inner_text("main")  # the worker typed it: not masked for them
    assert page.inner_text(".status-words")
    assert check(page, "grid-demand") == [] and small_targets(page) == []
    shoot(page, "grid-demand")
    page.click("nav.tabs a[href$='/grid/mine']")
    page.wait_for_selector("#mine")
    shoot(page, "grid-mine")


def test_sign_out_asks_and_forgets_the_cached_pages(phone: tuple[Any, Any], running: RunningSuite) -> None:
    _, page = phone
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("form[action='/signout'] button")
    page.wait_for_url("**/signin**")
    assert asked and "退出" in asked[0]
    assert page.evaluate("caches.keys().then(k => k.filter(n => n.startsWith('yangpu-')).length)") == 0


def test_a_draft_refused_for_the_sign_in_is_kept_and_the_worker_asked_to_sign_in(
        phone: tuple[Any, Any], running: RunningSuite) -> None:
    context, page = phone
    title = f"登录过期 {uuid.uuid4().hex[:6]}"
    fill(page, title)
    context.set_offline(True)
    page.click("#demand-form button[type=submit]")
    page.wait_for_selector("#result.warn:not([hidden])")
    context.clear_cookies()  # the sign-in ended while the phone was offline
    context.set_offline(False)
    page.wait_for_selector("#sync-status.warn a[href^='/signin']")
    assert "重新登录" in page.inner_text("#sync-status")
    assert page.evaluate(COUNT_QUEUE) == 1 and titled(running, title) == []
    shoot(page, "grid-signin-again")


def test_a_new_version_is_offered_and_taken_on_request(phone: tuple[Any, Any], running: RunningSuite) -> None:
    """A new worker script (as a deployment brings): the phone finds it, asks, and reloads into it."""
    _, page = phone
    before = page.evaluate("() => navigator.serviceWorker.controller.scriptURL")
    # Another script URL for the same scope is an update, as new bytes at the same URL would be.
    page.evaluate("() => navigator.serviceWorker.register('/grid/sw.js?release=next', {scope: '/grid'})"
                  ".then(() => true)")
    page.wait_for_selector("#update-bar:not([hidden])", timeout=20_000)
    assert "新版本" in page.inner_text("#update-bar") and small_targets(page) == []
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL") == before  # nothing until asked
    with page.expect_navigation():
        page.click("#update-bar button")
    page.wait_for_load_state()
    # (The page registers /grid/sw.js again at load, which for this test's URL is yet another update.)
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL").endswith("release=next")
