"""Password accounts and page sessions, in the identity store (:mod:`shared.auth_store`).

People sign in to the pages with a username and a password (bearer tokens stay for integrations and tests).
An admin creates an account (API on every service, or this module's CLI) linked to a role, a street, an
e-mail address and, for an officer, their roster id; its first password is one-time: the first sign-in
must choose a new one. Passwords are hashed with argon2id (argon2-cffi's RFC 9106 defaults).

Lockout, counted per account: :data:`LOCK_AFTER` wrong passwords lock it for :data:`LOCK_SECONDS`. The lock
ends by itself and nothing extends it: attempts during a lock, from any address, are refused unchecked and
not counted, so a stranger can keep a worker out for at most that long per :data:`LOCK_AFTER` guesses (and
the per-address limit of the sign-in page, 10 failures a minute, bounds what one address may try). An admin
can unlock at once. A username nobody has is counted and "locked" the same way (in ``rate_limits``), and
checked against a dummy hash, so neither the answer nor its timing tells whether an account exists.

A session is a random id (only its SHA-256 is stored) that ends after ``SESSION_IDLE_SECONDS`` without a
request, at the latest ``JWT_MAX_TTL_SECONDS`` after sign-in, at sign-out, and when an admin resets the
password or disables the account. Its ``last_seen`` is written at most every :data:`TOUCH_EVERY_SECONDS`.

Usage::

    python -m shared.accounts create --username wang.fang --role grid_worker --street dinghai \\
        --email wang.fang@example.cn
    python -m shared.accounts reset|unlock|disable|enable wang.fang
    python -m shared.accounts list
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import re
import secrets
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from shared import audit
from shared.auth import ACCOUNT_ROLES, Principal, _check_role_street, check_officer_street, roster_streets
from shared.auth_store import SqlRateLimitStorage, StoreUnavailable, accounts, sessions
from shared.instants import instant_text

LOCK_AFTER = 5  # wrong passwords in a row that lock an account
LOCK_SECONDS = 15 * 60
TOUCH_EVERY_SECONDS = 30  # a session's last_seen is written at most this often (sliding idle timeout)
PURGE_EVERY_SECONDS = 60.0
DEFAULT_IDLE_SECONDS = 30 * 60
MIN_PASSWORD, MAX_PASSWORD = 10, 200  # the maximum keeps hashing a posted novel cheap to refuse
USERNAME = r"^[a-z0-9][a-z0-9._-]{2,63}$"
EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}$"
# The passwords every guesser tries first (and Chinese favourites); a full breach list is not shipped.
COMMON_PASSWORDS = frozenset("""
123456789012 1234567890 0123456789 1234512345 1111111111 0000000000 8888888888 6666666666 5201314520
1314520520 1qaz2wsx3edc qwertyuiop qwertyuiop1 asdfghjkl1 zxcvbnm123 password12 password123 password1234
passw0rd123 iloveyou12 iloveyou123 abc1234567 abcd123456 a123456789 qwerty1234 qwe123qwe123 admin12345
administrator letmein123 welcome123 changeme123 yangpu12345 shanghai123 woaini1314 aa12345678 1q2w3e4r5t
""".split())
# Initial passwords: no look-alike characters, read out over the phone in four groups.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"

HASHER = PasswordHasher(type=Type.ID)


class AccountRefused(ValueError):
    """An account operation refused: ``kind`` is ``invalid`` (422), ``not_found`` (404) or ``conflict`` (409)."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None, kind: str = "invalid") -> None:
        super().__init__(message)
        self.message, self.errors, self.kind = message, errors or {}, kind


@dataclass(frozen=True)
class Account:
    username: str
    role: str
    street: str | None
    email: str
    officer_id: str | None
    must_change_password: bool
    failed_count: int
    locked_until: int | None
    disabled: bool
    created_at: int
    updated_at: int

    @property
    def subject(self) -> str:
        """Who the account acts as in tokens: an officer is their roster id, everyone else their username."""
        return self.officer_id or self.username

    def locked(self, now: float) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class Session:
    """A signed-in page session, as :meth:`Accounts.resolve` finds it."""

    username: str
    subject: str
    role: str
    street: str | None
    must_change_password: bool
    expires_at: int

    @property
    def principal(self) -> Principal:
        return Principal(subject=self.subject, role=self.role, street=self.street)


@dataclass(frozen=True)
class SignIn:
    """``outcome``: ``ok`` (``session_id`` set), ``wrong`` (username or password) or ``locked``."""

    outcome: str
    session_id: str | None = None
    must_change_password: bool = False


def password_problem(password: str, username: str) -> str | None:
    """Why a new password is refused, or None."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return f"a password has at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"a password has at most {MAX_PASSWORD} characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in password):
        return "a password has no control characters"
    if password.casefold() == username.casefold():
        return "a password must not be the username"
    if password.casefold() in COMMON_PASSWORDS or len(set(password)) < 4:
        return "this password is too common; choose another"
    return None


def generate_password() -> str:
    """A one-time initial password (19 characters, about 99 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(4)) for _ in range(4))


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _audited(row: Row[Any] | None) -> dict[str, Any]:
    """What the audit keeps of an account (never its password hash); a lock as an ISO time."""
    if row is None:
        return {}
    locked = row.locked_until
    return {"role": row.role, "street": row.street, "email": row.email, "officer_id": row.officer_id,
            "must_change_password": bool(row.must_change_password), "disabled": bool(row.disabled),
            "locked_until": instant_text(datetime.fromtimestamp(locked, UTC)) if locked else None}


_UNSET: Any = object()  # "leave this field as it is" (None is a value: no street, no roster id)


def _account(row: Row[Any]) -> Account:
    return Account(username=row.username, role=row.role, street=row.street, email=row.email,
                   officer_id=row.officer_id, must_change_password=bool(row.must_change_password),
                   failed_count=int(row.failed_count), locked_until=row.locked_until, disabled=bool(row.disabled),
                   created_at=int(row.created_at), updated_at=int(row.updated_at))


class Accounts:
    """Accounts and sessions on the identity store's engine; ``clock`` (epoch seconds) is for tests."""

    def __init__(self, engine: Engine, *, idle_seconds: int = DEFAULT_IDLE_SECONDS, max_seconds: int = 12 * 3600,
                 roster_path: Path | None = None, clock: Callable[[], float] = time.time,
                 hasher: PasswordHasher = HASHER) -> None:
        self.engine, self.idle_seconds, self.max_seconds = engine, idle_seconds, max_seconds
        self.roster_path, self.clock, self.hasher = roster_path, clock, hasher
        self._unknown = SqlRateLimitStorage(engine=engine, clock=lambda: self.clock())
        self._dummy: str | None = None
        self._purged_at = float("-inf")
        self._lock = threading.Lock()

    # --- what an admin does (each appends an audit row in its own transaction; ``by`` is who) ----------

    def _check(self, username: str, role: str, street: str | None, email: str, officer_id: str | None) -> None:
        errors: dict[str, list[str]] = {}
        if not re.match(USERNAME, username):
            errors["username"] = ["3-64 of a-z, 0-9, '.', '_', '-', starting with a letter or digit"]
        if len(email) > 254 or not re.match(EMAIL, email):
            errors["email"] = ["not an e-mail address"]
        if role not in ACCOUNT_ROLES:
            errors["role"] = [f"one of {', '.join(ACCOUNT_ROLES)}"]
        elif problem := _check_role_street(role, street):
            errors["street"] = [problem]
        if role == "officer" and not officer_id:
            errors["officer_id"] = ["an officer's account names their roster id"]
        elif role != "officer" and officer_id:
            errors["officer_id"] = ["only an officer has a roster id"]
        elif officer_id and self.roster_path is not None and not errors:
            problem = check_officer_street(self.roster_path, officer_id, street) if street else None
            if roster_streets(self.roster_path, officer_id) is None:
                problem = f"officer {officer_id!r} is not in the roster"
            if problem:
                errors["officer_id"] = [problem]
        if errors:
            raise AccountRefused("some fields are invalid; see errors", errors)

    def create(self, username: str, role: str, email: str, street: str | None = None, officer_id: str | None = None,
               password: str | None = None, must_change_password: bool = True,
               by: str = audit.SYSTEM) -> tuple[Account, str | None]:
        """A new account; without ``password`` a one-time one is generated and returned (else None)."""
        username = username.strip().lower()
        self._check(username, role, street, email, officer_id)
        generated = None if password is not None else generate_password()
        chosen = password if password is not None else generated
        assert chosen is not None
        if problem := password_problem(chosen, username):
            raise AccountRefused(problem, {"password": [problem]})
        now = int(self.clock())
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(accounts).values(
                    username=username, password_hash=self.hasher.hash(chosen), role=role, street=street, email=email,
                    officer_id=officer_id, must_change_password=must_change_password, failed_count=0,
                    locked_until=None, disabled=False, created_at=now, updated_at=now))
                created = conn.execute(select(accounts).where(accounts.c.username == username)).first()
                audit.record(conn, by, "account.create", username, None, _audited(created), at=now)
        except IntegrityError:
            raise AccountRefused(f"an account {username!r} exists already", {"username": ["taken"]},
                                 "conflict") from None
        return self.get_or_refuse(username), generated

    def get(self, username: str) -> Account | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.username == username.strip().lower())).first()
        return _account(row) if row else None

    def get_or_refuse(self, username: str) -> Account:
        found = self.get(username)
        if found is None:
            raise AccountRefused(f"no account {username!r}", kind="not_found")
        return found

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(select(accounts).order_by(accounts.c.username))]

    def _change(self, username: str, end_sessions: bool, audited: tuple[str, str] | None = None,
                **values: Any) -> Account:
        """Write ``values``; with ``audited`` = (actor, action), the change's audit row in the same transaction."""
        username = username.strip().lower()
        now = int(self.clock())
        one = select(accounts).where(accounts.c.username == username)
        with self.engine.begin() as conn:
            before = conn.execute(one.with_for_update()).first() if audited else None
            done = conn.execute(update(accounts).where(accounts.c.username == username)
                                .values(updated_at=now, **values))
            if not done.rowcount:
                raise AccountRefused(f"no account {username!r}", kind="not_found")
            if end_sessions:
                conn.execute(delete(sessions).where(sessions.c.username == username))
            if audited:
                old, new = audit.changes(_audited(before), _audited(conn.execute(one).first()))
                audit.record(conn, audited[0], audited[1], username, old, new, at=now)
        return self.get_or_refuse(username)

    def reset_password(self, username: str, password: str | None = None,
                       by: str = audit.SYSTEM) -> tuple[Account, str | None]:
        """A new one-time password (generated when not given): must be changed at the next sign-in. Unlocks
        the account and ends its sessions."""
        account = self.get_or_refuse(username)
        generated = None if password is not None else generate_password()
        chosen = password if password is not None else generated
        assert chosen is not None
        if problem := password_problem(chosen, account.username):
            raise AccountRefused(problem, {"password": [problem]})
        return self._change(account.username, True, (by, "account.reset_password"),
                            password_hash=self.hasher.hash(chosen), must_change_password=True,
                            failed_count=0, locked_until=None), generated

    def unlock(self, username: str, by: str = audit.SYSTEM) -> Account:
        return self._change(username, False, (by, "account.unlock"), failed_count=0, locked_until=None)

    def disable(self, username: str, by: str = audit.SYSTEM) -> Account:
        """The account cannot sign in any more and its sessions end at once."""
        return self._change(username, True, (by, "account.disable"), disabled=True)

    def enable(self, username: str, by: str = audit.SYSTEM) -> Account:
        return self._change(username, False, (by, "account.enable"), disabled=False, failed_count=0,
                            locked_until=None)

    def update(self, username: str, *, role: str = _UNSET, street: str | None = _UNSET,
               officer_id: str | None = _UNSET, email: str = _UNSET, by: str = audit.SYSTEM) -> Account:
        """Change an account's role, street, roster link or e-mail (checked as a whole, like a new account).
        Its sessions end, since a session carries the role and street it was opened with."""
        account = self.get_or_refuse(username)
        merged = {"role": account.role if role is _UNSET else role,
                  "street": account.street if street is _UNSET else (street or None),
                  "officer_id": account.officer_id if officer_id is _UNSET else (officer_id or None),
                  "email": account.email if email is _UNSET else email.strip()}
        self._check(account.username, merged["role"], merged["street"], merged["email"], merged["officer_id"])
        return self._change(account.username, True, (by, "account.update"), **merged)

    # --- signing in -----------------------------------------------------------------------------------

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(generate_password())
        return self._dummy

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def sign_in(self, username: str, password: str) -> SignIn:
        """Check a username and password; on success open a session. Every refusal is ``wrong`` or ``locked``
        whether or not the account exists; see the module's docstring for the lock."""
        name = username.strip().lower()[:200]
        password = password[:MAX_PASSWORD + 1]
        now = self.clock()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(accounts).where(accounts.c.username == name)).first()
            account = _account(row) if row else None
            if account is None or account.disabled:
                return self._unknown_failure(name, password)
            if account.locked(now):
                return SignIn("locked")
            if not self._verify(row.password_hash, password):
                return self._count_failure(account, now)
            if self.hasher.check_needs_rehash(row.password_hash):
                self._change(name, False, password_hash=self.hasher.hash(password))
            self._change(name, False, failed_count=0, locked_until=None)
            return SignIn("ok", self.open_session(account), account.must_change_password)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the identity store cannot be used: {exc.__class__.__name__}") from exc

    def _unknown_failure(self, name: str, password: str) -> SignIn:
        key = "signin-name:" + hashlib.sha256(name.encode()).hexdigest()[:40]
        if self._unknown.get(key) >= LOCK_AFTER:
            return SignIn("locked")
        self._verify(self._dummy_hash(), password)  # the same work as a real account's check
        return SignIn("locked" if self._unknown.incr(key, LOCK_SECONDS) >= LOCK_AFTER else "wrong")

    def _count_failure(self, account: Account, now: float) -> SignIn:
        """One more wrong password: the LOCK_AFTER-th locks the account (counting starts again after it)."""
        with self.engine.begin() as conn:
            failed = conn.execute(update(accounts).where(accounts.c.username == account.username)
                                  .values(failed_count=accounts.c.failed_count + 1)
                                  .returning(accounts.c.failed_count)).scalar_one()
            if failed >= LOCK_AFTER:
                conn.execute(update(accounts).where(accounts.c.username == account.username)
                             .values(failed_count=0, locked_until=int(now) + LOCK_SECONDS))
                return SignIn("locked")
        return SignIn("wrong")

    def change_password(self, session_id: str, current: str, new: str) -> None:
        """The signed-in user's own change: the current password again, a new acceptable one. Ends the
        account's other sessions. A wrong current password counts towards the lock."""
        session = self.resolve(session_id)
        if session is None:
            raise AccountRefused("the session has ended", kind="not_found")
        account = self.get_or_refuse(session.username)
        with self.engine.connect() as conn:
            stored = conn.execute(select(accounts.c.password_hash)
                                  .where(accounts.c.username == account.username)).scalar_one()
        if account.locked(self.clock()):
            raise AccountRefused("locked", {"current": ["locked"]})
        if not self._verify(stored, current[:MAX_PASSWORD + 1]):
            self._count_failure(account, self.clock())
            raise AccountRefused("wrong", {"current": ["wrong"]})
        if problem := password_problem(new, account.username):
            raise AccountRefused(problem, {"new": [problem]})
        if new == current:
            raise AccountRefused("same", {"new": ["the new password must differ from the current one"]})
        self._change(account.username, False, password_hash=self.hasher.hash(new), must_change_password=False,
                     failed_count=0)
        with self.engine.begin() as conn:
            conn.execute(delete(sessions).where(sessions.c.username == account.username,
                                                sessions.c.id_hash != session_hash(session_id)))

    # --- sessions -------------------------------------------------------------------------------------

    def open_session(self, account: Account) -> str:
        session_id = secrets.token_urlsafe(32)
        now = int(self.clock())
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(
                id_hash=session_hash(session_id), username=account.username, subject=account.subject,
                role=account.role, street=account.street, created_at=now, last_seen=now,
                expires_at=now + self.max_seconds))
            self._purge(conn, now)
        return session_id

    def resolve(self, session_id: str | None) -> Session | None:
        """The live session this id opens, or None (unknown, idle too long, past its end, account disabled).
        Slides the idle timeout; StoreUnavailable when the store cannot be read."""
        if not session_id or len(session_id) > 200:
            return None
        now = int(self.clock())
        key = session_hash(session_id)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(sessions, accounts.c.must_change_password, accounts.c.disabled)
                    .join(accounts, accounts.c.username == sessions.c.username)
                    .where(sessions.c.id_hash == key)).first()
                if row is None:
                    return None
                if row.disabled or now >= row.expires_at or now - row.last_seen > self.idle_seconds:
                    conn.execute(delete(sessions).where(sessions.c.id_hash == key))
                    conn.commit()
                    return None
                if now - row.last_seen >= TOUCH_EVERY_SECONDS:
                    conn.execute(update(sessions).where(sessions.c.id_hash == key).values(last_seen=now))
                    conn.commit()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the identity store cannot be read: {exc.__class__.__name__}") from exc
        return Session(username=row.username, subject=row.subject, role=row.role, street=row.street,
                       must_change_password=bool(row.must_change_password), expires_at=int(row.expires_at))

    def end(self, session_id: str | None) -> None:
        """Sign-out: the session is deleted, so its cookie opens nothing anywhere any more."""
        if session_id and len(session_id) <= 200:
            with self.engine.begin() as conn:
                conn.execute(delete(sessions).where(sessions.c.id_hash == session_hash(session_id)))

    def sessions_of(self, username: str) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(sessions.c.id_hash).where(sessions.c.username == username)).all())

    def _purge(self, conn: Any, now: int) -> None:
        with self._lock:
            if now - self._purged_at < PURGE_EVERY_SECONDS:
                return
            self._purged_at = now
        conn.execute(delete(sessions).where((sessions.c.expires_at <= now)
                                            | (sessions.c.last_seen < now - self.idle_seconds)))


# --- CLI --------------------------------------------------------------------------------------------


def _show(account: Account) -> str:
    state = "disabled" if account.disabled else "locked" if account.locked(time.time()) else "active"
    extra = " (must change password)" if account.must_change_password else ""
    return (f"{account.username:24s} {account.role:15s} {account.street or '-':14s} {account.officer_id or '-':20s} "
            f"{account.email:30s} {state}{extra}")


def main(argv: Sequence[str] | None = None) -> int:
    """Admins' account work from a shell; prints a generated one-time password once, never stores it."""
    from shared.auth_store import ensure_schema, open_engine
    from shared.config import Settings

    parser = argparse.ArgumentParser(prog="python -m shared.accounts", description="Manage sign-in accounts.")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create an account and print its one-time password")
    create.add_argument("--username", required=True)
    create.add_argument("--role", required=True, choices=ACCOUNT_ROLES)
    create.add_argument("--street", default=None)
    create.add_argument("--email", required=True)
    create.add_argument("--officer-id", default=None, help="an officer's roster id (deploy/roster.yaml)")
    create.add_argument("--password-stdin", action="store_true", help="read the initial password from stdin")
    for name, why in (("reset", "new one-time password (printed), unlock, end sessions"),
                      ("unlock", "lift a lock now"), ("disable", "no more sign-ins; end sessions"),
                      ("enable", "allow sign-ins again")):
        one = sub.add_parser(name, help=why)
        one.add_argument("username")
        if name == "reset":
            one.add_argument("--password-stdin", action="store_true")
    sub.add_parser("list", help="every account and its state")
    args = parser.parse_args(argv)
    settings = Settings.for_command()
    engine = open_engine(settings.auth_database_url)
    ensure_schema(engine)
    store = Accounts(engine, idle_seconds=settings.session_idle_seconds, max_seconds=settings.jwt_max_ttl_seconds,
                     roster_path=settings.roster_path)
    given = sys.stdin.readline().rstrip("\n") if getattr(args, "password_stdin", False) else None
    by = f"cli:{getpass.getuser()}"  # the audit's actor: whoever ran the command on the server
    try:
        if args.command == "create":
            account, generated = store.create(args.username, args.role, args.email, args.street, args.officer_id,
                                              password=given, by=by)
        elif args.command == "reset":
            account, generated = store.reset_password(args.username, given, by=by)
        elif args.command == "list":
            for account in store.list():
                print(_show(account))
            return 0
        else:
            account, generated = getattr(store, args.command)(args.username, by=by), None
    except AccountRefused as exc:
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.errors.items())
        print(f"refused: {exc.message}{' (' + details + ')' if details else ''}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(_show(account))
    if generated:
        print(f"one-time password (give it to {account.username}; it must be changed at first sign-in): {generated}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
