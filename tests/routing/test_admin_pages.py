"""The admin's desk (routing's /admin pages): accounts, the roster, integration tokens and the audit.

Routing alone with the test roster, signed in through a page session; every change is checked in the store it
made it in and in the audit, and the API's changes are audited by the same commands.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared import audit
from shared.accounts import AccountRefused, Accounts
from shared.auth import decode_token
from shared.auth_store import ensure_schema, open_engine
from shared.config import Settings
from shared.webkit.pages import SESSION_COOKIE
from tests.routing.conftest import OFFICER_1, Routing
from tests.signin import session_for

ADMIN = "admin-01"


def _client(routing: Routing, role: str = "admin", subject: str = ADMIN, street: str | None = None) -> Any:
    client = routing.client.application.test_client()
    client.set_cookie(SESSION_COOKIE, session_for(routing.client.application, role, subject, street))
    return client


def _csrf(client: Any, path: str = "/admin") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True))[1]


def _accounts(routing: Routing) -> Accounts:
    return routing.client.application.extensions["yangpu_accounts"]


def _audit(routing: Routing, **kwargs: Any) -> list[audit.Entry]:
    return audit.latest(_accounts(routing).engine, 200, **kwargs)


@pytest.fixture
def admin(routing: Routing) -> Any:
    return _client(routing)


def test_only_admins_open_the_desk_and_forms_need_their_csrf_token(routing: Routing, admin: Any) -> None:
    for path in ("/admin", "/admin/accounts", "/admin/roster", "/admin/tokens", "/admin/audit"):
        assert admin.get(f"{path}?lang=en").status_code == 200, path
    officer = _client(routing, "officer", OFFICER_1)
    refused = officer.get("/admin/accounts?lang=en")
    assert refused.status_code == 403 and "Your role may not open this page." in refused.get_data(as_text=True)
    assert routing.client.application.test_client().get("/admin").status_code == 302  # to the sign-in
    no_token = admin.post(f"/admin/roster/{OFFICER_1}/duty", data={"on_duty": "0"})
    assert no_token.status_code == 400 and routing.officer(OFFICER_1).on_duty is True
    home = admin.get("/admin?lang=en").get_data(as_text=True)
    assert "/compliance" in home  # sla's compliance view, which admits admins


def test_creating_an_account_shows_its_one_time_password_once_and_audits_it(routing: Routing, admin: Any) -> None:
    token = _csrf(admin)
    made = admin.post("/admin/accounts?lang=en", data={
        "csrf_token": token, "username": "Zhou.Min", "role": "grid_worker", "street": "wujiaochang",
        "email": "zhou.min@example.cn"})
    page = made.get_data(as_text=True)
    assert made.status_code == 201, page
    password = re.search(r'id="one-time-password"[^>]*>([^<]+)<', page)[1]
    assert _accounts(routing).sign_in("zhou.min", password).outcome == "ok"
    again = admin.get("/admin/accounts?lang=en").get_data(as_text=True)
    assert password not in again and "zhou.min" in again and "Must change password" in again
    entry = _audit(routing, target="zhou.min")[0]
    assert (entry.actor, entry.action, entry.before) == (ADMIN, "account.create", None)
    assert entry.after["role"] == "grid_worker" and entry.after["street"] == "wujiaochang"
    assert password not in str(entry.after) and "password_hash" not in entry.after
    shown = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Account created: zhou.min" in shown and f"by {ADMIN}" in shown
    assert re.search(r'<strong>Role</strong>:\s*<span class="before">\(none\)</span>\s*'
                     r'→ <span class="after">Grid worker</span>', shown)  # before empty, after in words


def test_refused_account_fields_come_back_in_words_and_nothing_is_made(routing: Routing, admin: Any) -> None:
    token = _csrf(admin)
    bad = admin.post("/admin/accounts?lang=en", data={"csrf_token": token, "username": "x", "role": "grid_worker",
                                                      "street": "", "email": "nope"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Enter an e-mail address." in page and "Grid workers and supervisors need a street" in page
    assert _accounts(routing).get("x") is None and not _audit(routing, target="x")
    _accounts(routing).create("taken.name", "admin", "t@example.cn", password="correct-horse-battery-staple")
    taken = admin.post("/admin/accounts?lang=en", data={"csrf_token": token, "username": "taken.name", "role": "admin",
                                                        "email": "t@example.cn"})
    assert taken.status_code == 422 and "This username is taken." in taken.get_data(as_text=True)


def test_reset_unlock_disable_enable_and_edit_are_audited_with_before_and_after(routing: Routing, admin: Any) -> None:
    accounts = _accounts(routing)
    accounts.create("li.lei", "grid_worker", "li.lei@example.cn", "wujiaochang",
                    password="correct-horse-battery-staple", must_change_password=False)
    token = _csrf(admin)
    reset = admin.post("/admin/accounts/li.lei/reset?lang=en", data={"csrf_token": token})
    password = re.search(r'id="one-time-password"[^>]*>([^<]+)<', reset.get_data(as_text=True))[1]
    assert accounts.sign_in("li.lei", password).must_change_password is True
    for _ in range(5):
        accounts.sign_in("li.lei", "wrong-password-here")
    assert "Locked" in admin.get("/admin/accounts?lang=en").get_data(as_text=True)
    assert admin.post("/admin/accounts/li.lei/unlock", data={"csrf_token": token}).status_code == 302
    assert admin.post("/admin/accounts/li.lei/disable", data={"csrf_token": token}).status_code == 302
    assert accounts.get("li.lei").disabled is True
    assert admin.post("/admin/accounts/li.lei/enable", data={"csrf_token": token}).status_code == 302
    moved = admin.post("/admin/accounts/li.lei/edit", data={"csrf_token": token, "role": "supervisor",
                                                            "street": "dinghai", "officer_id": "",
                                                            "email": "li.lei@example.cn"})
    assert moved.status_code == 302 and (accounts.get("li.lei").role, accounts.get("li.lei").street) == (
        "supervisor", "dinghai")
    entries = _audit(routing, target="li.lei")
    assert [e.action for e in entries] == ["account.update", "account.enable", "account.disable", "account.unlock",
                                           "account.reset_password", "account.create"]
    assert all(e.actor == ADMIN for e in entries[:-1]) and entries[-1].actor == audit.SYSTEM
    update, enable, disable, unlock, reset_row = entries[:5]
    assert (update.before, update.after) == ({"role": "grid_worker", "street": "wujiaochang"},
                                             {"role": "supervisor", "street": "dinghai"})
    assert (disable.before, disable.after) == ({"disabled": False}, {"disabled": True})
    assert unlock.before["locked_until"] and unlock.after == {"locked_until": None}
    assert reset_row.after == {"must_change_password": True}
    assert password not in str([(e.before, e.after) for e in entries])
    wrong = admin.post("/admin/accounts/li.lei/edit?lang=en", data={"csrf_token": token, "role": "officer",
                                                                    "street": "", "officer_id": "",
                                                                    "email": "li.lei@example.cn"})
    assert wrong.status_code == 422 and "names an officer of the roster" in wrong.get_data(as_text=True)
    assert accounts.get("li.lei").role == "supervisor"
    own = admin.post(f"/admin/accounts/{ADMIN}/disable?lang=en", data={"csrf_token": token})
    assert own.status_code == 409 and accounts.get(ADMIN).disabled is False


def test_roster_page_switches_duty_and_capacity_through_the_audited_commands(routing: Routing, admin: Any) -> None:
    token = _csrf(admin)
    page = admin.get("/admin/roster?lang=en").get_data(as_text=True)
    assert f'data-officer="{OFFICER_1}"' in page and "Duty hours" in page
    other_street = admin.get("/admin/roster?street=changbai&lang=en").get_data(as_text=True)
    assert f'data-officer="{OFFICER_1}"' not in other_street and 'data-officer="sup-changbai"' in other_street
    off = admin.post(f"/admin/roster/{OFFICER_1}/duty", data={"csrf_token": token, "on_duty": "0"})
    assert off.status_code == 302 and routing.officer(OFFICER_1).on_duty is False
    assert admin.post(f"/admin/roster/{OFFICER_1}/capacity", data={"csrf_token": token, "capacity": "7"}).status_code \
        == 302
    assert routing.officer(OFFICER_1).capacity == 7
    bad = admin.post(f"/admin/roster/{OFFICER_1}/capacity?lang=en", data={"csrf_token": token, "capacity": "-1"})
    assert bad.status_code == 422 and "whole number" in bad.get_data(as_text=True)
    capacity, duty = _audit(routing, target=OFFICER_1)[:2]
    assert (duty.action, duty.actor, duty.before, duty.after) == ("officer.off_duty", ADMIN, {"on_duty": True},
                                                                  {"on_duty": False})
    assert (capacity.action, capacity.before, capacity.after) == ("officer.capacity", {"capacity": 2}, {"capacity": 7})
    shown = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    assert f"Taken off duty: {OFFICER_1}" in shown


def test_the_json_apis_are_audited_too(routing: Routing) -> None:
    api = routing.auth("admin", "api-admin")
    assert routing.client.post(f"/api/v1/officers/{OFFICER_1}/off-duty", headers=api).status_code == 200
    made = routing.client.post("/auth/accounts", headers=api, json={"username": "api.made", "role": "hotline_agent",
                                                                    "email": "a@example.cn"})
    assert made.status_code == 201
    assert routing.client.post("/auth/accounts/api.made/disable", headers=api).status_code == 200
    assert [(e.actor, e.action) for e in _audit(routing, target="api.made")] == [
        ("api-admin", "account.disable"), ("api-admin", "account.create")]
    assert _audit(routing, target=OFFICER_1)[0].action == "officer.off_duty"
    assert routing.client.patch(f"/api/v1/officers/{OFFICER_1}", headers=api,
                                json={"name": "专员甲改", "skills": ["taxation"]}).status_code == 200
    patched = _audit(routing, target=OFFICER_1)[0]
    assert (patched.action, patched.actor, patched.after) == ("officer.update", "api-admin",
                                                              {"name": "专员甲改", "skills": ["taxation"]})
    assert set(patched.before) == {"name", "skills"}
    new = {"id": "com-wujiaochang-9", "name": "专员丙", "kind": "street_commissioner", "streets": ["wujiaochang"],
           "skills": ["taxation"], "capacity": 3, "duty": {"days": ["mon"], "from": "09:00", "to": "17:00"}}
    assert routing.client.post("/api/v1/officers", headers=api, json=new).status_code == 201
    created = _audit(routing, target="com-wujiaochang-9")[0]
    assert (created.action, created.before, created.after["capacity"], created.after["on_duty"]) == (
        "officer.create", None, 3, True)
    shown = _client(routing).get("/admin/audit?lang=en").get_data(as_text=True)
    assert "Officer added: com-wujiaochang-9" in shown and "Mon 09:00–17:00" in shown and "Taxation" in shown
    assert routing.client.post("/auth/revocations", headers=api, json={"jti": "some-jti"}).status_code == 201
    assert _audit(routing, target="some-jti")[0].action == "token.revoke"


def test_an_integration_token_is_shown_once_works_and_is_revoked_by_its_id(routing: Routing, admin: Any) -> None:
    app = routing.client.application
    token = _csrf(admin)
    too_long = admin.post("/admin/tokens?lang=en", data={"csrf_token": token, "role": "admin", "subject": "erp",
                                                         "ttl_seconds": str(app.config["JWT_MAX_TTL_SECONDS"] + 1)})
    assert too_long.status_code == 422 and "Enter a lifetime" in too_long.get_data(as_text=True)
    issued = admin.post("/admin/tokens?lang=en", data={"csrf_token": token, "role": "admin", "subject": "erp-sync",
                                                       "street": "", "ttl_seconds": "600"})
    assert issued.status_code == 201
    bearer = re.search(r'<textarea id="token-value"[^>]*>([^<]+)<', issued.get_data(as_text=True))[1]
    jti = decode_token(bearer, app.config["JWT_SECRET"]).token_id
    headers = {"Authorization": f"Bearer {bearer}"}
    assert routing.client.get("/api/v1/officers", headers=headers).status_code == 200
    entry = _audit(routing, target=jti)[0]
    assert (entry.action, entry.actor, entry.after["subject"], entry.after["role"]) == (
        "token.issue", ADMIN, "erp-sync", "admin")
    assert bearer not in str(entry.after) and bearer not in admin.get("/admin/tokens").get_data(as_text=True)
    revoked = admin.post("/admin/tokens/revoke", data={"csrf_token": token, "jti": jti})
    assert revoked.status_code == 302
    assert routing.client.get("/api/v1/officers", headers=headers).status_code == 401
    assert _audit(routing, target=jti)[0].action == "token.revoke"


def test_the_audit_page_is_paged_newest_first(routing: Routing, admin: Any) -> None:
    engine = _accounts(routing).engine
    for n in range(60):
        audit.record(engine, ADMIN, "officer.capacity", f"officer-{n:02d}", {"capacity": n}, {"capacity": n + 1})
    first = admin.get("/admin/audit?lang=en").get_data(as_text=True)
    assert first.index("officer-59") < first.index("officer-58") and "officer-09" not in first
    older = re.search(r'href="(/admin/audit\?before=\d+)"', first)[1]
    second = admin.get(older + "&lang=en").get_data(as_text=True)
    assert "officer-09" in second and "officer-59" not in second
    assert re.search(r'<span class="before">59</span>\s*→ <span class="after">60</span>', first)


def test_audit_rows_never_hold_a_secret(routing: Routing) -> None:
    with pytest.raises(ValueError, match="never holds a secret"):
        audit.record(_accounts(routing).engine, ADMIN, "account.create", "x", None, {"password": "hunter2hunter2"})


@pytest.mark.parametrize("backend", ["embedded", pytest.param("production", marks=pytest.mark.production)])
def test_the_audit_table_refuses_update_and_delete_in_the_database(request: pytest.FixtureRequest,
                                                                   backend: str) -> None:
    """Append-only for real: not only does no code path change a row, the database itself refuses (a trigger on
    PostgreSQL, the identity store's production database, and on SQLite)."""
    env = request.getfixturevalue(backend)  # production: the real PostgreSQL (fails in CI when it is missing)
    engine = open_engine(env.get("AUTH_DATABASE_URL") or Settings.from_env(env).auth_database_url)
    try:
        ensure_schema(engine)
        ensure_schema(engine)  # idempotent: a second web process starting
        audit.record(engine, ADMIN, "officer.off_duty", OFFICER_1, {"on_duty": True}, {"on_duty": False})
        statements = ["UPDATE audit_log SET actor = 'someone-else'", "DELETE FROM audit_log"]
        if engine.dialect.name == "postgresql":
            statements.append("TRUNCATE audit_log")
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(statement))
        [entry] = audit.latest(engine)
        assert (entry.actor, entry.after) == (ADMIN, {"on_duty": False})
    finally:
        engine.dispose()


def test_an_account_update_is_checked_as_a_whole_and_ends_its_sessions(routing: Routing) -> None:
    accounts = _accounts(routing)
    account, _ = accounts.create("he.ping", "officer", "he@example.cn", None, OFFICER_1,
                                 password="correct-horse-battery-staple", must_change_password=False)
    session_id = accounts.open_session(account)
    with pytest.raises(AccountRefused) as refused:
        accounts.update("he.ping", role="hotline_agent", by=ADMIN)  # still naming a roster id
    assert "officer_id" in refused.value.errors and accounts.resolve(session_id) is not None
    changed = accounts.update("he.ping", role="hotline_agent", officer_id=None, by=ADMIN)
    assert (changed.role, changed.officer_id, changed.subject) == ("hotline_agent", None, "he.ping")
    assert accounts.resolve(session_id) is None  # the session carried the old role
    assert _audit(routing, target="he.ping")[0].after == {"role": "hotline_agent", "officer_id": None}


def test_disabling_an_officers_account_takes_them_off_duty_and_offers_to_reassign_their_work(
        routing: Routing, admin: Any) -> None:
    held = routing.submit()
    assert routing.assignment(held).officer_id == OFFICER_1
    _accounts(routing).create("officer.one", "officer", "one@example.cn", None, OFFICER_1,
                              password="correct-horse-battery-staple", must_change_password=False)
    token = _csrf(admin)
    left = admin.post("/admin/accounts/officer.one/disable?lang=en", data={"csrf_token": token})
    assert left.status_code == 302 and "/admin/roster" in left.headers["Location"]
    assert routing.officer(OFFICER_1).on_duty is False
    page = admin.get(left.headers["Location"]).get_data(as_text=True)
    assert "Account disabled and off duty" in page
    assert f'action="/admin/roster/{OFFICER_1}/reassign' in page
    assert [e.action for e in _audit(routing, target=OFFICER_1)][:1] == ["officer.off_duty"]


def test_roster_page_sets_and_cancels_leave_and_offers_to_reassign_what_an_officer_on_leave_holds(
        routing: Routing, admin: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from routing_service.domain.policy import shanghai_today

    held = routing.submit()
    assert routing.assignment(held).officer_id == OFFICER_1
    token = _csrf(admin)
    page = admin.get("/admin/roster?lang=en").get_data(as_text=True)
    assert f'action="/admin/roster/{OFFICER_1}/leave' in page and 'name="leave_from" type="date"' in page
    assert f'action="/admin/roster/{OFFICER_1}/reassign' not in page  # on duty, not on leave
    bad = admin.post(f"/admin/roster/{OFFICER_1}/leave?lang=en",
                     data={"csrf_token": token, "leave_from": "2026-12-05", "leave_until": "2026-12-01"})
    assert bad.status_code == 422 and "at most 366 days later" in bad.get_data(as_text=True)
    assert routing.officer(OFFICER_1).leave_from is None
    today = shanghai_today(datetime.now(UTC))
    saved = admin.post(f"/admin/roster/{OFFICER_1}/leave?lang=zh_Hans_CN",
                       data={"csrf_token": token, "leave_from": str(today), "leave_until": str(today + timedelta(4))})
    assert saved.status_code == 302
    shown = admin.get(saved.headers["Location"] + "&lang=zh_Hans_CN").get_data(as_text=True)
    start, end = today, today + timedelta(4)
    assert f"休假中 {start.month}月{start.day}日–{end.month}月{end.day}日" in shown
    assert f'action="/admin/roster/{OFFICER_1}/reassign' in shown  # on leave and holding a demand: 全部改派
    assert routing.officer(OFFICER_1).on_duty is True  # the switch is untouched
    entry = _audit(routing, target=OFFICER_1)[0]
    assert (entry.action, entry.actor, entry.after) == (
        "officer.leave", ADMIN, {"leave_from": str(start), "leave_until": str(end)})
    assert "Leave changed" in admin.get("/admin/audit?lang=en").get_data(as_text=True)
    cancelled = admin.post(f"/admin/roster/{OFFICER_1}/leave", data={"csrf_token": token, "cancel": "1"})
    assert cancelled.status_code == 302 and routing.officer(OFFICER_1).leave_until is None
    again = admin.get("/admin/roster?lang=en").get_data(as_text=True)
    assert f'action="/admin/roster/{OFFICER_1}/reassign' not in again and 'data-part="leave"' not in again
