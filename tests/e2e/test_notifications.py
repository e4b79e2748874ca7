"""Issue 18 in Chromium against the real processes: the supervisor's bell and the officer's notification.

An alert posted to routing's webhook (as Alertmanager would, with its own token) rings the supervisor's bell
within the live channel's 2 s; opening the alerts page shows it in Chinese and empties the bell. An officer
whose queue page is open is told when a demand is given to them: in the page and, once they allowed it with
the page's button (never on load), as a browser notification. ``window.Notification`` is wrapped by an init
script so the test sees what the page constructed. Screenshots ``docs/screenshots/alerts-*.png`` and
``officer-notice.png``.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from shared.auth import issue_token
from shared.config import PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, STREET, USERS, RunningSuite, signed_in
from tests.e2e.test_accessibility import check
from tests.helpers import demand_body
from tests.signin import PASSWORD

DOCS_SHOTS = PROJECT_ROOT / "docs" / "screenshots"
OFFICER = USERS["officer"][0]
# Records each notification the page constructs (and still makes the real one); permission starts undecided,
# so the page must not show any until the officer presses its button.
WRAP_NOTIFICATION = """
(() => {
  const Real = window.Notification;
  window.__notified = [];
  window.__asked = 0;
  function Wrapped(title, options) {
    window.__notified.push({title: title, body: (options || {}).body, tag: (options || {}).tag});
    try { return new Real(title, options); } catch (e) { return this; }
  }
  Wrapped.permission = sessionStorage.getItem("test-permission") || "default";  // kept across reloads
  Wrapped.requestPermission = () => { window.__asked += 1; Wrapped.permission = "granted";
                                      sessionStorage.setItem("test-permission", "granted");
                                      return Promise.resolve("granted"); };
  window.Notification = Wrapped;
})();
"""


def shoot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=False)


def post_alert(running: RunningSuite, fingerprint: str) -> dict[str, Any]:
    """One firing KeyEnterpriseBreach for the street, as Alertmanager posts it."""
    token = issue_token("alertmanager", "alertmanager", None, secret=running.settings.jwt_secret)
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    body = {"version": "4", "groupKey": '{}:{street="wujiaochang"}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "suite-webhook", "groupLabels": {"street": STREET}, "commonLabels": {"street": STREET},
            "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
            "alerts": [{"status": "firing", "startsAt": now, "endsAt": "0001-01-01T00:00:00Z",
                        "labels": {"alertname": "KeyEnterpriseBreach", "severity": "page", "street": STREET,
                                   "kind": "resolution", "category": "taxation"},
                        "annotations": {"summary": f"{STREET}: a key enterprise's demand breached its resolution "
                                                   "promise (taxation)",
                                        "runbook": "docs/operations.md#keyenterprisebreach", "page": "/supervisor"},
                        "generatorURL": "http://127.0.0.1:9090/graph", "fingerprint": fingerprint}]}
    request = urllib.request.Request(running.url("routing", "/api/v1/alerts/webhook"), data=json.dumps(body).encode(),
                                     method="POST", headers={"Authorization": f"Bearer {token}",
                                                             "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def test_the_supervisors_bell_rings_and_the_alerts_page_empties_it(browser: Any, running: RunningSuite) -> None:
    context, page = signed_in(browser, running, "supervisor", DESKTOP, lang="zh_Hans_CN")
    try:
        page.goto(running.url("routing", "/alerts?lang=zh_Hans_CN"))  # whatever came before is read now
        page.goto(running.url("routing", "/supervisor?lang=zh_Hans_CN"))
        assert page.get_attribute("#bell .bell-count", "data-unread") == "0"
        assert post_alert(running, uuid.uuid4().hex[:16]) == {"alerts": 1}
        page.wait_for_selector('#bell .bell-count[data-unread="1"]', timeout=10_000)  # polled every 2 s
        assert page.inner_text("#bell .bell-count") == "1"
        shoot(page, "alerts-bell")

        page.click("nav.main-nav li.bell a")
        page.wait_for_load_state()
        assert page.url.startswith(running.url("routing", "/alerts"))
        card = page.locator(".alert-card.unread").first
        assert "重点企业诉求超时" in card.inner_text() and "五角场" in card.inner_text()
        assert "需立即处理" in card.inner_text() and "打开相关页面" in card.inner_text()
        assert page.get_attribute("#bell .bell-count", "data-unread") == "0"
        shoot(page, "alerts-page")
        page.reload()
        assert page.locator(".alert-card.unread").count() == 0  # read: the second visit shows none as new
        assert check(page, "alerts") == []
    finally:
        context.close()


def _holder(running: RunningSuite, demand_id: str) -> str:
    def assigned() -> str | None:
        code, a = running.api("routing", f"/api/v1/demands/{demand_id}/assignment", "supervisor")
        return a.get("officer_id") if code == 200 else None
    return running.wait(assigned, 30, "the demand assigned")


def _give_to_the_officer(running: RunningSuite, title: str) -> str:
    """File a demand and make sure the test's officer holds it (a transfer by the supervisor if routing chose
    another officer): the officer's page hears of it either way through ``assigned_at``."""
    status, filed = running.api("intake", "/api/v1/demands", "grid_worker", demand_body(title=title))
    assert status == 201, filed
    if _holder(running, filed["id"]) != OFFICER:
        status, body = running.api("routing", f"/api/v1/demands/{filed['id']}/transfer", "supervisor",
                                   {"to_officer": OFFICER, "reason": "由该专员办理"})
        assert status == 200, body
    return filed["id"]


def test_the_officer_is_notified_of_a_demand_given_to_them(browser: Any, running: RunningSuite) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.set_default_timeout(15_000)
    context.grant_permissions(["notifications"], origin=running.url("routing"))
    context.add_init_script(WRAP_NOTIFICATION)
    page = context.new_page()
    try:
        page.goto(running.url("routing", "/signin?lang=zh_Hans_CN"))
        page.fill("#username", running.usernames["officer"])
        page.fill("#password", PASSWORD)
        page.click("form[action='/signin'] button[type=submit]")
        page.wait_for_load_state()
        page.goto(running.url("routing", "/officer?lang=zh_Hans_CN"))
        if page.locator("#notices form").count():  # earlier tests' demands: read, so this one stands out
            page.click("#notices form button")
            page.wait_for_load_state()
        assert page.evaluate("window.__asked") == 0  # never asked on load
        assert page.is_visible("#notify-ask")
        page.click("#notify-ask")
        page.wait_for_function("window.__asked === 1")
        assert page.is_hidden("#notify-ask")
        before = page.evaluate("window.__notified.length")

        title = f"厂房用电增容 {uuid.uuid4().hex[:6]}"
        demand_id = _give_to_the_officer(running, title)
        page.wait_for_selector(f'[data-notice^="assigned:{demand_id}:"]', timeout=15_000)  # the live channel
        notice = page.locator(f'[data-notice^="assigned:{demand_id}:"]')
        assert "新派给您" in notice.inner_text() and title in notice.inner_text()
        assert demand_body()["enterprise"]["name"] in notice.inner_text()
        page.wait_for_function(f"window.__notified.some(n => n.body && n.body.includes({json.dumps(title)}))")
        shown = [n for n in page.evaluate("window.__notified")[before:] if title in (n["body"] or "")]
        assert len(shown) == 1 and shown[0]["title"] == "新派给您" and shown[0]["tag"].startswith("assigned:")
        row = f'#queue a[href$="{demand_id}"] >> visible=true'  # the table row (the phone card is hidden)
        page.wait_for_selector(row, timeout=15_000)  # the list's own poll (10 s)
        shoot(page, "officer-notice")
        page.reload()  # allowed still, and the notice still unread: this browser does not show it again
        page.wait_for_selector(f'[data-notice^="assigned:{demand_id}:"]')
        assert page.is_hidden("#notify-ask") and page.evaluate("window.__asked") == 0
        page.wait_for_timeout(2500)  # a poll of the live channel too
        assert page.evaluate("window.__notified") == []
    finally:
        context.close()
