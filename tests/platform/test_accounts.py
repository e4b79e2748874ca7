"""Password accounts and page sessions (shared/accounts.py): hashing, the forced first change, the lock per
account (and what another address can and cannot do to it), idle timeout, server-side sign-out, the admins'
API and CLI. The store is the identity store, so the tests that touch it run on both backends; each
"worker" is a separate app instance, as gunicorn's workers are, and a test moves time by the accounts' clock.
"""

from __future__ import annotations

import re
import statistics
import time
from typing import Any

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from shared import accounts as accounts_cli
from shared.accounts import LOCK_AFTER, LOCK_SECONDS, Accounts, password_problem
from shared.auth import issue_token
from shared.auth_store import accounts as accounts_table
from shared.auth_store import sessions as sessions_table
from tests.signin import settings_of

HOME = "198.51.100.10"  # the worker's phone
ELSEWHERE = ("203.0.113.21", "203.0.113.22", "203.0.113.23")
WRONG = "Wrong-password-0"
LOCKED = "Too many wrong passwords"


def _accounts(app: Flask) -> Accounts:
    return app.extensions["yangpu_accounts"]


def _client(app: Flask, address: str = HOME) -> Any:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _csrf(client: Any, path: str = "/signin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def _sign_in(client: Any, username: str, password: str) -> Any:
    return client.post("/signin?lang=en", data={"csrf_token": _csrf(client), "username": username,
                                                "password": password})


def _admin(app: Flask, role: str = "admin", street: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(role, 'root', street, secret=settings_of(app).jwt_secret)}"}


def _create(app: Flask, **body: Any) -> Any:
    body = {"username": "wang.fang", "role": "grid_worker", "street": "wujiaochang",
            "email": "wang.fang@example.cn", **body}
    return _client(app).post("/auth/accounts", json=body, headers=_admin(app))


def _worker(app: Flask, password: str = "Zhongshan-Road-77") -> str:
    """A grid worker whose password needs no change."""
    _accounts(app).create("wang.fang", "grid_worker", "wang.fang@example.cn", "wujiaochang", password=password,
                          must_change_password=False)
    return "wang.fang"


def _session_of(client: Any) -> str:
    return client.get_cookie("yangpu_session").value


def _with_session(app: Flask, session_id: str) -> Any:
    client = _client(app)
    client.set_cookie("yangpu_session", session_id)
    return client


def _page_status(client: Any) -> int:
    return client.get("/pages/csrf", headers={"Accept": "application/json"}).status_code


# --- hashing and the password rules -------------------------------------------------------------------


@pytest.mark.both_backends
def test_passwords_are_stored_as_argon2id_hashes_only(make_app):
    app = make_app("intake")
    created = _create(app)
    assert created.status_code == 201, created.get_json()
    initial = created.get_json()["initial_password"]
    with _accounts(app).engine.connect() as conn:
        stored = conn.execute(select(accounts_table.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$") and initial not in stored
    assert _client(app).get("/auth/accounts", headers=_admin(app)).get_json()["items"][0].get(
        "initial_password") is None  # shown once, never again


@pytest.mark.parametrize(("password", "refused"), [
    ("short-1", True), ("wang.fang", True), ("WANG.FANG1", False), ("1234567890", True), ("password123", True),
    ("aaaaaaaaaaaa", True), ("with\ncontrol-1", True), ("x" * 201, True), ("Zhongshan-Road-77", False),
    ("杨浦区定海路一百号大楼", False),
])
def test_password_rules(password, refused):
    assert (password_problem(password, "wang.fang") is not None) is refused


# --- first sign-in ------------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_the_first_sign_in_must_choose_a_new_password_before_any_page(make_app):
    app = make_app("intake")
    initial = _create(app).get_json()["initial_password"]
    client = _client(app)
    first = client.post("/signin", data={"csrf_token": _csrf(client), "username": "Wang.Fang ", "password": initial,
                                         "next": "/grid/mine"})
    assert first.status_code == 302 and first.headers["Location"] == "/account/password?next=/grid/mine"
    assert client.get("/grid").headers["Location"] == "/account/password?next=/grid"
    assert client.get("/").headers["Location"] == "/account/password"
    assert client.get("/grid/mine", headers={"Accept": "application/json"}).status_code == 403
    token = _csrf(client, "/account/password")

    def change(current: str, new: str, again: str | None = None) -> Any:
        return client.post("/account/password?lang=en&next=/grid/mine", data={
            "csrf_token": token, "current": current, "new": new, "again": new if again is None else again})

    assert "The current password is wrong." in change("not-it-at-all", "Zhongshan-Road-77").get_data(as_text=True)
    assert "differ" in change(initial, "Zhongshan-Road-77", "Zhongshan-Road-78").get_data(as_text=True)
    for weak in ("wang.fang", "password123", "short"):
        refused = change(initial, weak)
        assert refused.status_code == 422 and "at least 10 characters" in refused.get_data(as_text=True)
    assert change(initial, initial).status_code == 422
    done = change(initial, "Zhongshan-Road-77")
    assert done.status_code == 302 and done.headers["Location"] == "/grid/mine"
    assert client.get("/grid").status_code == 200
    assert _sign_in(_client(app), "wang.fang", initial).status_code == 422
    assert _sign_in(_client(app), "wang.fang", "Zhongshan-Road-77").status_code == 302


# --- the lock per account -----------------------------------------------------------------------------


def _fails(client: Any, username: str, times: int, password: str = WRONG) -> list[str]:
    """What each refused sign-in said: "wrong" or "locked"."""
    said = []
    for _ in range(times):
        page = _sign_in(client, username, password)
        assert page.status_code == 422, page.status_code
        said.append("locked" if LOCKED in page.get_data(as_text=True) else "wrong")
    return said


@pytest.mark.both_backends
def test_wrong_passwords_lock_the_account_and_the_lock_ends_by_itself(make_app):
    app = make_app("intake")
    username = _worker(app)
    client = _client(app)
    assert _fails(client, username, LOCK_AFTER) == ["wrong"] * (LOCK_AFTER - 1) + ["locked"]
    assert _fails(client, username, 1, "Zhongshan-Road-77") == ["locked"]  # even the right password
    make_app.now[0] += LOCK_SECONDS - 1
    assert _fails(client, username, 1, "Zhongshan-Road-77") == ["locked"]
    make_app.now[0] += 1
    assert _sign_in(_client(app), username, "Zhongshan-Road-77").status_code == 302
    # the count starts again after a lock, and a success clears it
    assert _fails(_client(app, ELSEWHERE[0]), username, LOCK_AFTER - 1) == ["wrong"] * (LOCK_AFTER - 1)
    assert _sign_in(_client(app), username, "Zhongshan-Road-77").status_code == 302
    assert _fails(_client(app, ELSEWHERE[0]), username, LOCK_AFTER - 1) == ["wrong"] * (LOCK_AFTER - 1)


@pytest.mark.both_backends
def test_another_address_cannot_extend_a_lock(make_app):
    """Defined: attempts during a lock, from anywhere, are refused unchecked and not counted, so a lock ends
    LOCK_SECONDS after the failure that set it, however much anyone keeps trying meanwhile; and every
    worker of every service sees the same lock."""
    intake, routing = make_app("intake"), make_app("routing")
    username = _worker(intake)
    assert _fails(_client(intake, ELSEWHERE[0]), username, LOCK_AFTER)[-1] == "locked"
    locked_at = make_app.now[0]
    for minute in range(15):  # a new address every minute (the address limit would stop one address)
        make_app.now[0] = locked_at + minute * 60
        app = intake if minute % 2 else routing
        assert _fails(_client(app, f"203.0.113.{40 + minute}"), username, 3) == ["locked"] * 3
    make_app.now[0] = locked_at + LOCK_SECONDS
    assert _sign_in(_client(routing), username, "Zhongshan-Road-77").status_code == 302
    account = _accounts(intake).get(username)
    assert account.failed_count == 0 and not account.locked(make_app.now[0])


@pytest.mark.both_backends
def test_an_admin_unlocks_at_once(make_app):
    app = make_app("sla")
    username = _worker(app)
    _fails(_client(app, ELSEWHERE[1]), username, LOCK_AFTER)
    listed = _client(app).get("/auth/accounts", headers=_admin(app)).get_json()["items"]
    assert listed[0]["locked_until"] is not None
    assert _client(app).post(f"/auth/accounts/{username}/unlock", headers=_admin(app)).status_code == 200
    assert _sign_in(_client(app), username, "Zhongshan-Road-77").status_code == 302


def test_an_unknown_username_is_answered_like_an_existing_one(make_app):
    app = make_app("intake")
    username = _worker(app)
    known = _fails(_client(app, ELSEWHERE[0]), username, LOCK_AFTER + 1)
    unknown = _fails(_client(app, ELSEWHERE[1]), "li.lei", LOCK_AFTER + 1)
    assert known == unknown == ["wrong"] * (LOCK_AFTER - 1) + ["locked", "locked"]
    accounts = _accounts(app)
    accounts.unlock(username)
    texts = {re.sub(r'(value|content)="[^"]*"', "", _sign_in(_client(app, ELSEWHERE[2]), name, WRONG)
                    .get_data(as_text=True)) for name in (username, "zhao.min")}
    assert len(texts) == 1  # the same page, but for the typed username and the CSRF token

    def took(name: str) -> float:
        started = time.perf_counter()
        accounts.sign_in(name, WRONG)
        return time.perf_counter() - started

    real = statistics.median(took(username) for _ in range(3))
    accounts.unlock(username)
    made_up = statistics.median(took(f"nobody-{i}") for i in range(3))
    assert 0.5 < made_up / real < 2, (made_up, real)  # a dummy argon2id verification, not a quick "no"


def test_failures_per_address_are_still_limited(make_app):
    """Many usernames from one address: the address limit (10 a minute) stops it, whatever the names."""
    app = make_app("intake")
    client = _client(app, "192.0.2.50")
    statuses = [_sign_in(client, f"user-{i}", WRONG).status_code for i in range(11)]
    assert statuses == [422] * 10 + [429]


# --- sessions -----------------------------------------------------------------------------------------


@pytest.mark.both_backends
def test_a_session_ends_after_its_idle_timeout_and_slides_while_used(make_app):
    app = make_app("intake")
    idle = settings_of(app).session_idle_seconds
    client = _client(app)
    assert _sign_in(client, _worker(app), "Zhongshan-Road-77").status_code == 302
    for _ in range(3):  # used every idle - 10 s: never ends
        make_app.now[0] += idle - 10
        assert client.get("/grid").status_code == 200
    make_app.now[0] += idle + 1
    assert client.get("/grid").headers["Location"] == "/signin?next=/grid"
    with _accounts(app).engine.connect() as conn:
        assert conn.execute(select(sessions_table)).first() is None  # deleted, not only refused


def test_a_session_never_outlives_the_longest_token_lifetime(make_app):
    app = make_app("intake")
    client = _client(app)
    assert _sign_in(client, _worker(app), "Zhongshan-Road-77").status_code == 302
    step = settings_of(app).session_idle_seconds - 10
    end = make_app.now[0] + settings_of(app).jwt_max_ttl_seconds
    while make_app.now[0] + step < end:
        make_app.now[0] += step
        assert _page_status(client) == 200
    make_app.now[0] = end
    assert _page_status(client) == 401


@pytest.mark.both_backends
def test_sign_out_ends_the_session_in_every_service(make_app):
    intake, routing, sla = make_app("intake"), make_app("routing"), make_app("sla")
    client = _client(intake)
    assert _sign_in(client, _worker(intake), "Zhongshan-Road-77").status_code == 302
    copied = _session_of(client)
    others = [_with_session(app, copied) for app in (routing, sla, intake)]
    assert [_page_status(c) for c in others] == [200, 200, 200]  # one sign-in serves the host's services
    signed_out = client.post("/signout", data={"csrf_token": _csrf(client, "/grid")})
    assert signed_out.status_code == 302 and signed_out.headers["Location"] == "/signin"
    assert [_page_status(c) for c in others] == [401, 401, 401]  # a copy of the cookie is worthless
    assert _accounts(intake).sessions_of("wang.fang") == 0


def test_the_cookie_holds_a_random_id_whose_hash_alone_is_stored(make_app):
    app = make_app("intake")
    response = _sign_in(_client(app), _worker(app), "Zhongshan-Road-77")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("yangpu_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert len(session_id) >= 40
    with _accounts(app).engine.connect() as conn:
        stored = conn.execute(select(sessions_table.c.id_hash)).scalar_one()
    assert session_id not in stored and len(stored) == 64


def test_a_page_asks_other_services_with_a_short_lived_token_for_its_user(make_app):
    from shared.webkit.pages import service_token

    app = make_app("routing")
    _accounts(app).create("cui.xiaowen", "officer", "cui@example.cn", "wujiaochang", "com-wujiaochang-2",
                          password="Zhongshan-Road-77", must_change_password=False)
    client = _client(app)
    assert _sign_in(client, "cui.xiaowen", "Zhongshan-Road-77").status_code == 302
    with app.test_request_context("/officer", headers={"Cookie": f"yangpu_session={_session_of(client)}"}):
        claims = jwt.decode(service_token(), settings_of(app).jwt_secret, algorithms=["HS256"],
                            options={"verify_iss": False})
    assert claims["sub"] == "com-wujiaochang-2" and claims["role"] == "officer"  # the officer's roster id
    assert claims["exp"] - claims["iat"] == 300


# --- the admins' API ----------------------------------------------------------------------------------


def test_only_admins_manage_accounts_and_every_field_is_checked(make_app):
    app = make_app("routing")
    client = _client(app)
    body = {"username": "li.lei", "role": "grid_worker", "street": "wujiaochang", "email": "li@example.cn"}
    assert client.post("/auth/accounts", json=body).status_code == 401
    assert client.post("/auth/accounts", json=body, headers=_admin(app, "supervisor", "wujiaochang")).status_code == 403
    assert client.get("/auth/accounts", headers=_admin(app, "officer")).status_code == 403
    for wrong, field in (({"username": "Li Lei"}, "username"), ({"username": "x"}, "username"),
                         ({"email": "li.example.cn"}, "email"), ({"role": "mayor"}, "role"),
                         ({"street": "nowhere"}, "street"), ({"street": None}, "street"),
                         ({"role": "admin"}, "street"), ({"role": "officer", "street": None}, "officer_id"),
                         ({"role": "officer", "officer_id": "com-nobody-9"}, "officer_id"),
                         ({"role": "officer", "officer_id": "com-yanji-1"}, "officer_id"),  # not this street
                         ({"officer_id": "com-wujiaochang-1"}, "officer_id"),
                         ({"password": "li.lei"}, "password"), ({"password": "password123"}, "password"),
                         ({"password": "1\x00" * 6}, "password")):
        answer = _create(app, **{**body, **wrong})
        assert answer.status_code == 422, (wrong, answer.get_json())
        assert field in answer.get_json()["errors"], (wrong, answer.get_json())
    assert _create(app, **body).status_code == 201
    assert _create(app, **body).status_code == 409
    officer = _create(app, username="cui.xiaowen", role="officer", street="wujiaochang",
                      officer_id="com-wujiaochang-2", password="Zhongshan-Road-77")
    assert officer.status_code == 201 and "initial_password" not in officer.get_json()
    assert officer.get_json()["must_change_password"] is True
    for path in ("/auth/accounts/nobody/unlock", "/auth/accounts/nobody/disable"):
        assert client.post(path, headers=_admin(app)).status_code == 404
    assert client.post("/auth/accounts/nobody/password-reset", json={}, headers=_admin(app)).status_code == 404
    names = [a["username"] for a in client.get("/auth/accounts", headers=_admin(app)).get_json()["items"]]
    assert names == ["cui.xiaowen", "li.lei"]


@pytest.mark.both_backends
def test_a_reset_or_a_disable_ends_the_sessions_of_the_account(make_app):
    intake, sla = make_app("intake"), make_app("sla")
    client = _client(intake)
    assert _sign_in(client, _worker(intake), "Zhongshan-Road-77").status_code == 302
    reset = _client(sla).post("/auth/accounts/wang.fang/password-reset", json={}, headers=_admin(sla))
    assert reset.status_code == 200 and reset.get_json()["must_change_password"] is True
    assert _page_status(client) == 401
    again = _sign_in(client, "wang.fang", reset.get_json()["initial_password"])
    assert again.headers["Location"] == "/account/password"
    assert _client(sla).post("/auth/accounts/wang.fang/disable", headers=_admin(sla)).get_json()["disabled"]
    assert _page_status(client) == 401
    assert "The username or password is wrong." in _sign_in(
        _client(intake), "wang.fang", reset.get_json()["initial_password"]).get_data(as_text=True)
    assert _client(sla).post("/auth/accounts/wang.fang/enable", headers=_admin(sla)).status_code == 200
    assert _sign_in(_client(intake), "wang.fang", reset.get_json()["initial_password"]).status_code == 302


@pytest.mark.parametrize("service", ["intake", "routing", "sla"])
def test_every_service_documents_the_accounts_api(make_app, service):
    paths = _client(make_app(service)).get("/openapi.json").get_json()["paths"]
    assert {"201", "401", "403", "409", "422"} <= set(paths["/auth/accounts"]["post"]["responses"])
    for action in ("unlock", "disable", "enable", "password-reset"):
        post = paths[f"/auth/accounts/{{username}}/{action}"]["post"]
        assert {"200", "401", "403", "404"} <= set(post["responses"]) and post["security"] == [{"bearerAuth": []}]


# --- the CLI ------------------------------------------------------------------------------------------


def test_the_cli_creates_resets_unlocks_disables_and_lists(make_app, capsys, monkeypatch):
    app = make_app("intake")

    def cli(*argv: str, stdin: str | None = None) -> tuple[int, str]:
        if stdin is not None:
            import io

            monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = accounts_cli.main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    code, out = cli("create", "--username", "zhou.jie", "--role", "supervisor", "--street", "wujiaochang",
                    "--email", "zhou@example.cn")
    assert code == 0 and "must change password" in out
    initial = re.search(r"one-time password .*: (\S+)$", out, re.M)[1]
    assert _sign_in(_client(app), "zhou.jie", initial).headers["Location"] == "/account/password"
    assert cli("create", "--username", "zhou.jie", "--role", "supervisor", "--street", "wujiaochang",
               "--email", "zhou@example.cn")[0] == 1
    code, out = cli("create", "--username", "cui.xiaowen", "--role", "officer", "--officer-id", "com-wujiaochang-2",
                    "--email", "cui@example.cn", "--password-stdin", stdin="Zhongshan-Road-77\n")
    assert code == 0 and "one-time password" not in out
    code, out = cli("reset", "zhou.jie")
    assert code == 0 and re.search(r"one-time password .*: (\S+)$", out, re.M)[1] != initial
    _accounts(app).disable("cui.xiaowen")
    assert cli("enable", "cui.xiaowen")[0] == 0
    _fails(_client(app, ELSEWHERE[0]), "cui.xiaowen", LOCK_AFTER)
    assert "locked" in cli("list")[1]
    assert cli("unlock", "cui.xiaowen")[0] == 0
    code, out = cli("disable", "cui.xiaowen")
    assert code == 0 and "disabled" in out
    code, listed = cli("list")
    assert code == 0 and [line.split()[0] for line in listed.splitlines()] == ["cui.xiaowen", "zhou.jie"]
    assert cli("unlock", "nobody")[0] == 1


def test_make_run_creates_a_demo_account_per_role_once(make_app):
    from devstack.stack import DEMO_USERS, demo_accounts

    app = make_app("intake")
    first = demo_accounts(settings_of(app))
    assert [(role, name) for role, name, _ in first] == [(role, subject) for role, subject, _ in DEMO_USERS]
    assert all(initial for _, _, initial in first)
    officer = _accounts(app).get("com-wujiaochang-1")
    assert officer.officer_id == "com-wujiaochang-1" and officer.must_change_password
    assert [initial for _, _, initial in demo_accounts(settings_of(app))] == [None] * len(DEMO_USERS)
    assert _sign_in(_client(app), "sup-wujiaochang", first[4][2]).headers["Location"] == "/account/password"
