"""The suite as real processes (gunicorn + workers on the embedded default) and a real headless Chromium.

Chromium is Debian's package (``deploy/browser/install.sh``), driven by Playwright; Playwright's own browser
downloads are never used. Without Chromium (or Playwright) a browser test is skipped on a developer's
machine and FAILS when ``CI=true``, like the production tests.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devstack.stack import Stack
from shared.accounts import Accounts
from shared.auth import issue_token
from shared.auth_store import open_engine
from shared.config import PROJECT_ROOT, SERVICES, Settings
from tests.conftest import unavailable
from tests.harness import step_until
from tests.signin import PASSWORD, ensure_account

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = PROJECT_ROOT / "var" / "screenshots"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}
STREET = "wujiaochang"
USERS = {
    "grid_worker": ("grid-wujiaochang-01", STREET),
    "officer": ("com-wujiaochang-1", STREET),  # on duty around the clock, every category (deploy/roster.yaml)
    "supervisor": ("sup-wujiaochang", STREET),
    "helpdesk_agent": ("hd-01", None),
    "hotline_agent": ("hl-01", None),
    "admin": ("admin-01", None),
}


def require_browser() -> None:
    """Fail in CI, skip elsewhere, when the browser or its driver is missing."""
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} not found; install it with deploy/browser/install.sh"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed in the venv"
    if problem:
        unavailable(problem)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningSuite:
    settings: Settings
    tokens: dict[str, str]  # a bearer token per role, for the API
    usernames: dict[str, str]  # a password account per role (tests.signin.PASSWORD), for the pages

    def url(self, service: str, path: str = "") -> str:
        return f"{self.settings.service_urls[service]}{path}"

    def api(self, service: str, path: str, role: str, body: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """Call a JSON API with a role's bearer token."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url(service, path), data=data, method="POST" if body is not None else "GET",
                                     headers={"Authorization": f"Bearer {self.tokens[role]}",
                                              "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def wait(self, predicate: Callable[[], Any], timeout_s: float = 30, what: str = "condition") -> Any:
        return step_until(predicate, timeout_s=timeout_s, what=what, every_s=0.2)


@pytest.fixture(scope="package")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSuite]:
    """The three services and their workers as processes, on free ports, in a fresh VAR_DIR."""
    require_browser()
    var = tmp_path_factory.mktemp("e2e-var")
    env = {"YANGPU_MODE": "embedded", "EVENT_BUS": "sqlite", "VAR_DIR": str(var), "LOG_LEVEL": "WARNING",
           "WEB_CONCURRENCY": "2"}
    for service in SERVICES:
        env[f"{service.upper()}_PORT"] = str(free_port())
        env[f"{service.upper()}_WORKER_METRICS_PORT"] = str(free_port())
    stack = Stack(env)
    for service in SERVICES:  # an inherited INTAKE_URL etc. would point the pages at another suite
        stack.env.pop(f"{service.upper()}_URL", None)
    stack.settings = Settings.from_env(stack.env)
    stack.seed()
    stack.start(timeout_s=90)
    settings = stack.settings
    tokens = {role: issue_token(role, subject, street, secret=settings.jwt_secret)
              for role, (subject, street) in USERS.items()}
    store = open_engine(settings.auth_database_url)
    try:
        accounts = Accounts(store, roster_path=settings.roster_path)
        usernames = {role: ensure_account(accounts, role, subject, street) for role, (subject, street) in USERS.items()}
    finally:
        store.dispose()
    try:
        yield RunningSuite(settings, tokens, usernames)
    finally:
        stack.stop()


@pytest.fixture(scope="package")
def browser(running: RunningSuite) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def signed_in(browser: Any, running: RunningSuite, role: str, viewport: dict[str, int], lang: str | None = None) -> Any:
    """A browser context (its own cookies and storage) signed in as ``role`` through the sign-in form, with
    the role's password account."""
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(running.url("intake", "/signin") + (f"?lang={lang}" if lang else ""))
    page.fill("#username", running.usernames[role])
    page.fill("#password", PASSWORD)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()
    return context, page


def titled(running: RunningSuite, title: str) -> list[dict[str, Any]]:
    """The demands intake stored with this title (a supervisor of the street reads them)."""
    status, body = running.api("intake", "/api/v1/demands?limit=100", "supervisor")
    assert status == 200, body
    return [d for d in body["items"] if d["title"] == title]


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


OFFLINE_READY = """() => navigator.serviceWorker.getRegistrations().then(regs => caches.keys().then(names =>
    Promise.all(names.map(n => caches.open(n).then(c => c.keys()))).then(all => ({
        controlled: navigator.serviceWorker.controller !== null, caches: names,
        registrations: regs.map(r => [r.scope, !!r.installing, !!r.waiting, !!r.active]),
        cached: all.flat().map(r => new URL(r.url).pathname)}))))"""


@pytest.fixture
def phone(browser: Any, running: RunningSuite) -> Iterator[tuple[Any, Any]]:
    """A phone signed in as the grid worker, on the form, with its service worker installed and in control."""
    context, page = signed_in(browser, running, "grid_worker", PHONE, lang="zh_Hans_CN")
    page.goto(running.url("intake", "/grid?lang=zh_Hans_CN"))
    state = {}
    for _ in range(100):  # the worker installs (shell and both pages cached) and takes control
        state = page.evaluate(OFFLINE_READY)
        if state["controlled"] and {"/grid", "/grid/mine"} <= set(state["cached"]):
            break
        if any(active for *_, active in state["registrations"]) and not state["controlled"]:
            page.reload()  # loaded while the worker was still installing: the next load is in its hands
        time.sleep(0.2)
    else:
        pytest.fail(f"the service worker did not get ready: {state}")
    try:
        yield context, page
    finally:
        context.close()
