"""The platform's identity store: the token deny list, sign-in rate limits, accounts and page sessions.

Identity belongs to no one service, so this is one database shared by all three (``AUTH_DATABASE_URL``;
embedded default ``VAR_DIR/auth.db``, production the PostgreSQL database ``yangpu_auth``). Its tables are
created idempotently when a web process starts (and by ``devstack.seed``); they have no migration history
yet (a column added to ``accounts`` later will need one).

* ``revoked_tokens``: one row per revoked ``jti``, kept until the token would have expired anyway (then
  purged). Each web worker keeps the set of revoked ids in memory and re-reads it at most every
  :data:`REFRESH_SECONDS`, so a request costs a set look-up, and a revocation reaches every worker of every
  service within that time.
* ``rate_limits``: fixed-window counters for flask-limiter, through :class:`SqlRateLimitStorage` (the
  ``limits`` library has no SQL storage): every worker counts in the same rows and a restart forgets nothing.
* ``accounts`` and ``sessions``: password accounts and the page sessions opened with them
  (:mod:`shared.accounts`).
* ``audit_log``: every admin change (accounts, roster, tokens, calendar), append-only (:mod:`shared.audit`).
* ``calendar_entries``: each year's official working schedule as operators entered it, one row per entry,
  never changed (the latest of a year is in force; :mod:`shared.calendar_store`).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from limits.errors import ConfigurationError
from limits.storage import Storage
from sqlalchemy import Connection, Engine, case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shared.auth import LEEWAY_SECONDS, decode_token, issue_token
from shared.db import make_engine
from shared.instants import instant_text

log = logging.getLogger(__name__)

# How stale a worker's copy of the deny list may be: a revoked token is refused everywhere within this.
REFRESH_SECONDS = 0.5
# Expired rows are deleted by each process at most this often (and on every revocation).
PURGE_EVERY_SECONDS = 60.0
STORAGE_SCHEME = "yangpu-auth"

metadata = sa.MetaData()
revoked_tokens = sa.Table(
    "revoked_tokens", metadata,
    sa.Column("jti", sa.String(200), primary_key=True),
    # epoch seconds: the token's own exp (or the longest a token can live); the row is purged after it
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),
    sa.Column("revoked_at", sa.BigInteger, nullable=False),
    sa.Column("revoked_by", sa.String(200), nullable=False),
)
rate_limits = sa.Table(
    "rate_limits", metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("hits", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False, index=True),  # epoch seconds: the window's end
)
# Password accounts (shared.accounts): one row per person, never deleted (disabled instead).
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, PHC string
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("street", sa.String(64), nullable=True),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("officer_id", sa.String(100), nullable=True),  # the roster id an officer acts as (their token subject)
    sa.Column("must_change_password", sa.Boolean, nullable=False),
    sa.Column("failed_count", sa.Integer, nullable=False),  # wrong passwords since the last success or lock
    sa.Column("locked_until", sa.BigInteger, nullable=True),  # epoch seconds
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.BigInteger, nullable=False),
)
# The admins' audit (shared.audit): one row per admin change, appended and never updated or deleted. On
# PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE; on SQLite one refuses UPDATE and DELETE.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("at", sa.BigInteger, nullable=False, index=True),  # epoch seconds
    sa.Column("actor", sa.String(200), nullable=False),  # the admin's subject (username), or "system"/"cli:..."
    sa.Column("action", sa.String(64), nullable=False),  # e.g. account.create, officer.off_duty, token.revoke
    sa.Column("target", sa.String(200), nullable=False),  # a username, an officer id, a token's jti
    sa.Column("before", sa.JSON, nullable=True),  # the changed fields before (None: it did not exist)
    sa.Column("after", sa.JSON, nullable=True),  # ... and after; never a password, a hash or a token
)
sa.event.listen(audit_log, "after_create", sa.DDL("""
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION USING MESSAGE = 'audit_log is append-only: ' || TG_OP || ' refused'; END $$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
""").execute_if(dialect="postgresql"))
for _operation in ("UPDATE", "DELETE"):
    sa.event.listen(audit_log, "after_create", sa.DDL(
        f"CREATE TRIGGER audit_log_no_{_operation.lower()} BEFORE {_operation} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {_operation} refused'); END"
    ).execute_if(dialect="sqlite"))
# Official schedules entered by operators (shared.calendar_store): appended, never updated; ``revision`` is
# unique and increases in commit order, so a process that saw revision N has seen every entry up to N.
calendar_entries = sa.Table(
    "calendar_entries", metadata,
    sa.Column("revision", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("year", sa.Integer, nullable=False, index=True),
    sa.Column("holidays", sa.JSON, nullable=False),  # ["2027-02-05", ...]
    sa.Column("workdays", sa.JSON, nullable=False),  # make-up workdays (Saturdays and Sundays)
    sa.Column("entered_by", sa.String(200), nullable=False),  # the admin's subject
    sa.Column("entered_at", sa.BigInteger, nullable=False),  # epoch seconds
)
# Page sessions: only the SHA-256 of the random id in the cookie is stored, so a copy of this table opens none.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("street", sa.String(64), nullable=True),
    sa.Column("created_at", sa.BigInteger, nullable=False),
    sa.Column("last_seen", sa.BigInteger, nullable=False),
    sa.Column("expires_at", sa.BigInteger, nullable=False, index=True),  # absolute end (JWT_MAX_TTL_SECONDS)
)


def _iso(epoch: int) -> str:
    return instant_text(datetime.fromtimestamp(epoch, UTC))


class StoreUnavailable(RuntimeError):
    """The identity store cannot be read, so nobody can be told their token is not revoked (fail closed)."""


def open_engine(url: str) -> Engine:
    """An engine on the store (a small pool: one short query per worker per refresh)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return make_engine(url)
    return make_engine(url, pool_size=2, max_overflow=4, pool_pre_ping=True)


def ensure_schema(engine: Engine) -> None:
    """Create the tables if missing; gunicorn workers starting together may race, so a loser retries."""
    for attempt in range(5):
        try:
            metadata.create_all(engine)
            return
        except DBAPIError:
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def _upsert(conn: Connection, table: sa.Table, values: dict[str, Any], update: dict[str, Any],
            returning: Any = None) -> Any:
    """INSERT ... ON CONFLICT (primary key) DO UPDATE, one atomic statement on SQLite and PostgreSQL."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=[c.name for c in table.primary_key], set_=update)
    if returning is not None:
        return conn.execute(stmt.returning(returning)).scalar_one()
    conn.execute(stmt)
    return None


class AuthStore:
    """The deny list as every web worker sees it: revoke here, ask :meth:`is_revoked` on each request."""

    def __init__(self, engine: Engine, *, refresh_seconds: float = REFRESH_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._revoked: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")  # monotonic time the last successful read started
        self._purged_at = float("-inf")

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> AuthStore:
        engine = open_engine(url)
        ensure_schema(engine)
        return cls(engine, **kwargs)

    def revoke(self, jti: str, expires_at: int, by: str) -> None:
        """Deny ``jti`` until ``expires_at`` (epoch s; a later date for the same jti wins) and purge what
        has expired. This worker refuses the token at once, the others at their next refresh. Audited."""
        from shared import audit  # it imports this module

        now = int(self.clock())
        try:
            with self.engine.begin() as conn:
                later = case((revoked_tokens.c.expires_at < expires_at, expires_at),
                             else_=revoked_tokens.c.expires_at)
                _upsert(conn, revoked_tokens, {"jti": jti, "expires_at": int(expires_at), "revoked_at": now,
                                               "revoked_by": by[:200]}, {"expires_at": later})
                audit.record(conn, by, "token.revoke", jti, None, {"revoked_until": _iso(expires_at)}, at=now)
                self._purge(conn, now)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the identity store cannot be written: {exc.__class__.__name__}") from exc
        with self._lock:
            self._revoked = self._revoked | {jti}

    def issue(self, role: str, subject: str, street: str | None, ttl_seconds: int, *, secret: str,
              max_ttl_seconds: int, by: str) -> tuple[str, str, int]:
        """A bearer token for an integration: (token, its jti, its exp). The token is returned once and kept
        nowhere; its jti, role, subject and end are audited (so it can be found and revoked). ValueError
        for a role/street pairing or a lifetime the services would refuse."""
        from shared import audit  # it imports this module

        now = int(self.clock())
        token = issue_token(role, subject, street, secret=secret, ttl_seconds=ttl_seconds, now=now,
                            max_ttl_seconds=max_ttl_seconds)
        jti = decode_token(token, secret, max_ttl_seconds=max_ttl_seconds).token_id or ""
        try:
            audit.record(self.engine, by, "token.issue", jti, None,
                         {"role": role, "subject": subject, "street": street, "expires_at": _iso(now + ttl_seconds)},
                         at=now)
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"the identity store cannot be written: {exc.__class__.__name__}") from exc
        return token, jti, now + ttl_seconds

    def is_revoked(self, jti: str | None) -> bool:
        """Whether ``jti`` is on the deny list (re-read at most every ``refresh_seconds``)."""
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            self._refresh()
        return jti is not None and jti in self._revoked

    def _refresh(self) -> None:
        with self._lock:
            started = time.monotonic()
            if started - self._loaded_at < self.refresh_seconds:
                return  # another thread has just read it
            now = int(self.clock())
            try:
                with self.engine.connect() as conn:
                    rows = conn.execute(select(revoked_tokens.c.jti)
                                        .where(revoked_tokens.c.expires_at >= now - LEEWAY_SECONDS)).scalars().all()
                    if started - self._purged_at >= PURGE_EVERY_SECONDS:
                        self._purged_at = started
                        self._purge(conn, now)
                        conn.commit()
            except SQLAlchemyError as exc:
                raise StoreUnavailable(f"the identity store cannot be read: {exc.__class__.__name__}") from exc
            self._revoked, self._loaded_at = frozenset(rows), started

    def purge(self) -> int:
        """Delete the entries of tokens that have expired (with the leeway decode allows); how many."""
        with self.engine.begin() as conn:
            return self._purge(conn, int(self.clock()))

    @staticmethod
    def _purge(conn: Connection, now: int) -> int:
        gone = conn.execute(delete(revoked_tokens).where(revoked_tokens.c.expires_at < now - LEEWAY_SECONDS))
        conn.execute(delete(rate_limits).where(rate_limits.c.expires_at < now))
        return gone.rowcount or 0

    def entries(self) -> dict[str, int]:
        """Every stored entry (jti → expires_at), for tests and operators."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(revoked_tokens.c.jti, revoked_tokens.c.expires_at))
            return {jti: int(exp) for jti, exp in rows}

    def close(self) -> None:
        self.engine.dispose()


class SqlRateLimitStorage(Storage):
    """A ``limits`` storage (fixed window) in the identity store, so every web worker of every service
    counts in the same rows and a restart forgets nothing. Registered as ``yangpu-auth://``; the engine is
    passed in the storage options (``Limiter(storage_uri="yangpu-auth://", storage_options={"engine": e})``).
    """

    STORAGE_SCHEME = [STORAGE_SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        engine = options.get("engine")
        if not isinstance(engine, Engine):
            raise ConfigurationError("yangpu-auth:// needs storage_options={'engine': <the identity store's>}")
        self.engine = engine
        self.clock: Callable[[], float] = options.get("clock") or time.time

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    @staticmethod
    def _key(key: str) -> str:
        return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits in the key's window (a new window if the old one is over); the new count."""
        now = self.clock()
        over = rate_limits.c.expires_at <= now
        with self.engine.begin() as conn:
            return int(_upsert(
                conn, rate_limits, {"key": self._key(key), "hits": amount, "expires_at": now + expiry},
                {"hits": case((over, amount), else_=rate_limits.c.hits + amount),
                 "expires_at": case((over, now + expiry), else_=rate_limits.c.expires_at)},
                returning=rate_limits.c.hits))

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            hits = conn.execute(select(rate_limits.c.hits).where(
                rate_limits.c.key == self._key(key), rate_limits.c.expires_at > self.clock())).scalar()
        return int(hits or 0)

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            expires = conn.execute(select(rate_limits.c.expires_at).where(
                rate_limits.c.key == self._key(key))).scalar()
        return float(expires) if expires is not None else self.clock()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(rate_limits)).scalar_one()
            conn.execute(delete(rate_limits))
        return int(count)

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(rate_limits).where(rate_limits.c.key == self._key(key)))


__all__ = ["AuthStore", "SqlRateLimitStorage", "StoreUnavailable", "accounts", "audit_log", "ensure_schema",
           "metadata", "open_engine", "sessions"]
