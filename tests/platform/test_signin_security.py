"""Sign-in and token security: no open redirect after sign-in, a shared sign-in rate limit, revocation.

Pages are signed in with password accounts (tests/platform/test_accounts.py has their lockout, sessions
and admin API); bearer tokens are the API's, revoked through the deny list.

The redirect cases assert on where a browser would go (the Location header resolved as a browser resolves
it), not on the exact answer, so they stay valid when the sign-in page changes. Revocation and the rate
limit use the platform's identity store (shared/auth_store.py) on both backends; each "worker" is a separate
app instance, as gunicorn's workers are.
"""

from __future__ import annotations

import re
import time
import urllib.parse
from typing import Any

import pytest
from flask import Flask

from shared.auth import decode_token, issue_token
from shared.auth_store import AuthStore
from tests.signin import PASSWORD, ensure_account, settings_of

CLIENT = "203.0.113.7"  # one client address per test app, so counts never mix with another test's


def _client(app: Flask, address: str = CLIENT) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _csrf(client: Any) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").get_data(as_text=True))[1]


def _sign_in(client: Any, password: str = PASSWORD, next_: str | None = None, username: str = "gw-sec") -> Any:
    """Sign in as a grid worker of wujiaochang (created on first use) with ``password``."""
    ensure_account(client.application.extensions["yangpu_accounts"], "grid_worker", "gw-sec", "wujiaochang")
    query = "?" + urllib.parse.urlencode({"next": next_}) if next_ is not None else ""
    return client.post(f"/signin{query}", data={"csrf_token": _csrf(client), "username": username,
                                                "password": password})


def _token(app: Flask, role: str = "admin", subject: str = "root", street: str | None = None) -> str:
    return issue_token(role, subject, street, secret=settings_of(app).jwt_secret)


def browser_target(location: str, base: str = "http://localhost/signin") -> urllib.parse.SplitResult:
    """Where a browser goes for this Location: it drops tabs and newlines, trims C0 controls and spaces and
    reads a backslash as a slash (WHATWG URL), then resolves against the page's URL."""
    cleaned = re.sub(r"[\t\n\r]", "", location).strip("".join(map(chr, range(0x21)))).replace("\\", "/")
    return urllib.parse.urlsplit(urllib.parse.urljoin(base, cleaned))


# --- 1. no open redirect after sign-in ----------------------------------------------------------------

HOSTILE_NEXT = [
    "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
    "//evil.example", "///evil.example", "////evil.example/x", "/\\evil.example", "\\\\evil.example",
    "/\\/evil.example", "https://evil.example/", "http:evil.example", "https:/evil.example", "HTTPS://evil.example",
    "javascript:alert(1)", "data:text/html,x", "evil.example", "/%2F%2Fevil.example", "%2F%2Fevil.example",
    "/%5Cevil.example", "/%252F%252Fevil.example", "/%09/evil.example", "/.//evil.example", "/./\t/evil.example",
    "/\x00/evil.example", "/\x0b/evil.example", "/\x7f/evil.example", "/\u3000/evil.example",
    "/\u200b/evil.example", "/\u2028/evil.example", "/\ufeff/evil.example", "/" + "a" * 5000,
]
SAFE_NEXT = ["/grid", "/officer?view=mine&lang=en", "/demands/D-1#timeline", "/supervisor?q=%E5%AE%9A%E6%B5%B7"]


@pytest.mark.parametrize("next_", HOSTILE_NEXT, ids=repr)
def test_sign_in_never_sends_the_browser_to_another_host(make_app, next_):
    app = make_app("intake")
    client = _client(app)
    allowed = {"localhost", *(urllib.parse.urlsplit(u).hostname for u in settings_of(app).service_urls.values())}
    response = _sign_in(client, next_=next_)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    target = browser_target(response.headers["Location"])
    assert target.hostname in allowed, response.headers["Location"]
    assert not target.path.startswith("//"), response.headers["Location"]
    page = client.get("/signin?" + urllib.parse.urlencode({"next": next_}))  # the form keeps no hostile next
    assert page.status_code == 200
    kept = re.search(r'name="next" value="([^"]*)"', page.get_data(as_text=True))
    assert kept is None or "evil.example" not in kept[1]


@pytest.mark.parametrize("next_", SAFE_NEXT)
def test_sign_in_goes_back_to_a_page_of_this_host(make_app, next_):
    app = make_app("intake")
    response = _sign_in(_client(app), next_=next_)
    assert response.status_code == 302
    assert response.headers["Location"] == next_


# --- the sign-in rate limit ---------------------------------------------------------------------------


def _fail(client: Any) -> int:
    """A refused sign-in: a username nobody has (so no account's own lock is involved)."""
    return _sign_in(client, "wrong-password-1", username="nobody-here").status_code


@pytest.mark.both_backends
def test_failed_sign_ins_are_limited_across_workers_services_and_restarts(make_app):
    first, second = make_app("intake"), make_app("intake")  # two workers of one service
    a, b = _client(first), _client(second)
    assert [_fail(a) for _ in range(5)] + [_fail(b) for _ in range(5)] == [422] * 10
    refused = _sign_in(a)
    assert refused.status_code == 429  # even a good password: the address is locked out for the window
    assert "Retry-After" in refused.headers
    assert _fail(b) == 429
    assert _fail(_client(make_app("routing"))) == 429  # every service shares the count
    assert _fail(_client(make_app("intake"))) == 429  # a restarted worker still refuses
    assert _sign_in(_client(first, "198.51.100.9")).status_code == 302  # another address


@pytest.mark.both_backends
def test_successful_sign_ins_do_not_count(make_app):
    app = make_app("intake")
    client = _client(app, "198.51.100.20")
    assert [_fail(client) for _ in range(9)] == [422] * 9
    assert [_sign_in(client).status_code for _ in range(5)] == [302] * 5
    assert _fail(client) == 422
    assert _fail(client) == 429


# --- revocation ---------------------------------------------------------------------------------------


def _revoke(client: Any, admin: str, body: dict[str, Any]) -> Any:
    return client.post("/auth/revocations", json=body, headers={"Authorization": f"Bearer {admin}"})


def _api_status(client: Any, token: str) -> int:
    """401 for a refused token; 403 for an accepted non-admin (the probe is the admin-only endpoint)."""
    return client.post("/auth/revocations", json={}, headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.both_backends
def test_a_revoked_token_is_refused_by_every_worker_of_every_service_within_a_second(make_app):
    apps = [make_app(s) for s in ("intake", "intake", "routing", "sla")]
    clients = [_client(a) for a in apps]
    officer = _token(apps[0], "officer", "com-yanji-1")
    for api in clients:
        assert _api_status(api, officer) == 403  # valid, and each worker has read the deny list
    jti = decode_token(officer, settings_of(apps[0]).jwt_secret).token_id
    response = _revoke(clients[0], _token(apps[0]), {"jti": jti})
    assert response.status_code == 201, response.get_json()
    revoked_at = time.monotonic()
    pending = set(range(len(apps)))
    while pending and time.monotonic() - revoked_at < 1.5:
        for i in list(pending):
            if _api_status(clients[i], officer) == 401:
                pending.discard(i)
        time.sleep(0.02)
    elapsed = time.monotonic() - revoked_at
    assert not pending and elapsed <= 1.0, f"still accepted by {pending} after {elapsed:.2f} s"
    assert "revoked" in clients[2].post("/auth/revocations", json={}, headers={
        "Authorization": f"Bearer {officer}"}).get_json()["message"]


def test_only_an_admin_revokes_and_the_body_is_checked(make_app):
    app = make_app("routing")
    client = _client(app)
    assert client.post("/auth/revocations", json={"jti": "x"}).status_code == 401
    assert _revoke(client, _token(app, "supervisor", "sup-yanji", "yanji"), {"jti": "x"}).status_code == 403
    admin = _token(app)
    assert _revoke(client, admin, {}).status_code == 422
    assert _revoke(client, admin, {"jti": ""}).status_code == 422
    assert _revoke(client, admin, {"jti": "x", "expires_at": "tomorrow"}).status_code == 422


def test_entries_expire_with_their_token_and_are_purged(make_app):
    app = make_app("sla")
    client, admin = _client(app), _token(app)
    store: AuthStore = app.extensions["yangpu_auth"]
    soon = time.time() + 120
    late = time.time() + 10 * 24 * 3600  # beyond any token's life: clamped to the longest one
    for jti, expires in (("gone", time.time() - 3600), ("soon", soon), ("late", late)):
        iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        assert _revoke(client, admin, {"jti": jti, "expires_at": iso}).status_code == 201
    assert _revoke(client, admin, {"jti": "default"}).status_code == 201
    entries = store.entries()
    assert "gone" not in entries  # purged by the next revocation
    assert abs(entries["soon"] - soon) <= 1
    longest = time.time() + settings_of(app).jwt_max_ttl_seconds
    assert longest <= entries["late"] <= longest + 60 and longest <= entries["default"] <= longest + 60


@pytest.mark.parametrize("service", ["intake", "routing", "sla"])
def test_every_service_documents_the_revocation_endpoint(make_app, service):
    spec = _client(make_app(service)).get("/openapi.json").get_json()
    post = spec["paths"]["/auth/revocations"]["post"]
    assert {"201", "401", "403", "422"} <= set(post["responses"])
    assert post["security"] == [{"bearerAuth": []}]
