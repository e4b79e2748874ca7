"""Password sign-in in a real Chromium at 360 px: the forced first change, the lockout message (and an admin's
unlock), and sign-out ending the session on the server (the old cookie opens nothing in any service).

Accounts are made through the admins' API, as an administrator would; every failed sign-in here comes from
127.0.0.1, so the tests stay under the per-address limit (10 failures a minute) together.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from shared.accounts import LOCK_AFTER
from shared.auth import issue_token
from tests.e2e.conftest import PHONE, RunningSuite, screenshot, signed_in


def _admin(running: RunningSuite, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    token = issue_token("admin", "admin-e2e", secret=running.settings.jwt_secret)
    req = urllib.request.Request(running.url("routing", path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.load(resp)


def _phone(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport=PHONE, locale="zh-CN")
    context.set_default_timeout(15_000)
    return context, context.new_page()


def _submit_sign_in(page: Any, running: RunningSuite, username: str, password: str) -> None:
    page.goto(running.url("intake", "/signin"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_load_state()


def _fits(page: Any) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_password_sign_in_forces_a_new_password_first(browser, running):
    status, created = _admin(running, "POST", "/auth/accounts", {
        "username": "e2e.first", "role": "grid_worker", "street": "wujiaochang", "email": "e2e.first@example.cn"})
    assert status == 201
    context, page = _phone(browser)
    try:
        page.goto(running.url("intake", "/signin"))
        assert _fits(page)
        screenshot(page, "signin-phone")
        _submit_sign_in(page, running, "e2e.first", created["initial_password"])
        assert "/account/password" in page.url
        assert page.is_visible("text=请先设置新密码再继续。")
        page.goto(running.url("intake", "/grid"))  # nothing else opens before the change
        assert "/account/password" in page.url
        assert _fits(page)
        screenshot(page, "password-change-phone")
        page.fill("#f-current", created["initial_password"])
        page.fill("#f-new", "e2e.first")  # the username: refused, beside the field
        page.fill("#f-again", "e2e.first")
        page.click("form[action^='/account/password'] button[type=submit]")
        assert page.get_attribute("#f-new", "aria-invalid") == "true"
        assert page.is_visible("#e-new")
        page.fill("#f-current", created["initial_password"])
        page.fill("#f-new", "Huangxing-Park-2026")
        page.fill("#f-again", "Huangxing-Park-2026")
        page.click("form[action^='/account/password'] button[type=submit]")
        page.wait_for_url(running.url("intake", "/grid") + "**")
        assert page.is_visible("#demand-form")
    finally:
        context.close()


def test_wrong_passwords_show_the_lockout_and_an_admin_unlocks(browser, running):
    status, _ = _admin(running, "POST", "/auth/accounts", {
        "username": "e2e.locked", "role": "supervisor", "street": "wujiaochang", "email": "e2e.locked@example.cn",
        "password": "Guoding-Road-1234"})
    assert status == 201
    context, page = _phone(browser)
    try:
        for attempt in range(LOCK_AFTER):
            _submit_sign_in(page, running, "e2e.locked", f"wrong-password-{attempt}")
            alert = page.text_content("#signin-error")
            if attempt < LOCK_AFTER - 1:
                assert alert == "用户名或密码错误。"
        assert "密码错误次数过多" in alert and "15" in alert
        assert page.get_attribute("#password", "aria-describedby") == "signin-error"
        assert _fits(page)
        screenshot(page, "signin-locked-phone")
        _submit_sign_in(page, running, "e2e.locked", "Guoding-Road-1234")  # the right one: still locked
        assert "密码错误次数过多" in page.text_content("#signin-error")
        assert _admin(running, "POST", "/auth/accounts/e2e.locked/unlock")[0] == 200
        _submit_sign_in(page, running, "e2e.locked", "Guoding-Road-1234")
        assert "/account/password" in page.url  # signed in; the password an admin chose is one-time too
    finally:
        context.close()


def test_sign_out_ends_the_session_on_the_server(browser, running):
    context, page = signed_in(browser, running, "officer", PHONE)
    try:
        assert page.url.startswith(running.url("routing", "/officer"))
        session = next(c for c in context.cookies() if c["name"] == "yangpu_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        page.on("dialog", lambda dialog: dialog.accept())  # should sign-out ask to confirm
        page.click("form[action='/signout'] button[type=submit]")
        page.wait_for_url("**/signin")
        assert not [c for c in context.cookies() if c["name"] == "yangpu_session"]
        stolen = browser.new_context(viewport=PHONE)  # someone who copied the cookie before sign-out
        try:
            stolen.add_cookies([{k: session[k] for k in ("name", "value", "domain", "path")}])
            other = stolen.new_page()
            for service, path in (("routing", "/officer"), ("intake", "/"), ("sla", "/")):
                other.goto(running.url(service, path))
                assert "/signin" in other.url, (service, other.url)
        finally:
            stolen.close()
    finally:
        context.close()
