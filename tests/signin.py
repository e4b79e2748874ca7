"""Test accounts: the sign-in helpers of the page tests create a password account and sign in with it.

An account is made straight in the identity store (as ``python -m shared.accounts create`` would) with a
password that needs no change, so a test reaches its page in one POST; the forced change has its own tests
(tests/platform/test_accounts.py, tests/e2e/test_signin.py).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from shared.accounts import Accounts
from shared.config import Settings

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 - a test account's


def settings_of(app: Flask) -> Settings:
    """The settings a web-process app was built with."""
    return app.extensions["yangpu"]["context"].settings


def username_for(subject: str) -> str:
    return subject.lower()


def ensure_account(accounts: Accounts, role: str, subject: str, street: str | None = None,
                   password: str = PASSWORD) -> str:
    """The username of an account acting as ``subject`` (an officer's roster id) with that role and street,
    created if missing; an existing one must match."""
    username = username_for(subject)
    found = accounts.get(username)
    if found is None:
        accounts.create(username, role, f"{username}@example.cn", street, subject if role == "officer" else None,
                        password=password, must_change_password=False)
    else:
        assert (found.role, found.street, found.subject) == (role, street, subject), \
            f"test account {username} exists as {found.role}/{found.street}"
    return username


def session_for(app: Any, role: str, subject: str, street: str | None = None) -> str:
    """The id of a new page session acting as ``subject`` in ``app``'s identity store: for a test that sets the
    ``yangpu_session`` cookie itself (``client.set_cookie(SESSION_COOKIE, session_for(...))``) instead of
    signing in through the form. The roster is not consulted, so any officer id will do."""
    accounts = Accounts(app.extensions["yangpu_accounts"].engine)
    username = ensure_account(accounts, role, subject, street)
    found = accounts.get(username)
    assert found is not None
    return accounts.open_session(found)
