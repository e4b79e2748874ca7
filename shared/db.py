"""Database engines, the unit of work and the column types the services share, the same code on SQLite
(embedded) and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Dialect, Engine, MetaData, String, Table, TypeDecorator, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column, sessionmaker


def is_sqlite(engine_or_url: Engine | str) -> bool:
    url = str(engine_or_url.url if isinstance(engine_or_url, Engine) else engine_or_url)
    return url.startswith("sqlite")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for this suite's access pattern: short write transactions from many processes.

    SQLite runs in WAL mode with a busy timeout, and every transaction starts ``BEGIN IMMEDIATE`` so
    two processes never deadlock upgrading a read lock to a write lock. A failed statement's exception
    never carries its bound values (``hide_parameters``): they hold names and phones, and exceptions are logged.
    """
    kwargs.setdefault("hide_parameters", True)
    if is_sqlite(url):
        engine = create_engine(url, connect_args={"isolation_level": None, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


class SqliteCommits:
    """A cheap way for a process to learn that *any* process committed to a SQLite file since it last looked,
    so an idle loop sleeps instead of querying a hundred times a second.

    In WAL mode every commit writes frames to the ``-wal`` file and a checkpoint writes the database file, so
    their sizes and modification times move: a ``stat`` of each (no query, no transaction) tells. The files are
    never *opened* here: closing any descriptor of a file drops every POSIX lock the process holds on it, and
    SQLite's own connections in this process hold some (a lost lock on ``-shm`` lets another process rebuild
    the shared memory under this one: SIGBUS). A change is at worst noticed late -- callers still look once a
    second -- never reported where there was none worth a look.
    """

    def __init__(self, engine: Engine) -> None:
        self.path = engine.url.database or ""
        self._last: tuple[int, ...] | None = None

    def _signature(self) -> tuple[int, ...]:
        signature: tuple[int, ...] = ()
        for path in (self.path, self.path + "-wal"):
            try:
                st = os.stat(path)
            except OSError:
                signature += (-1, -1, -1)
            else:
                signature += (st.st_ino, st.st_mtime_ns, st.st_size)
        return signature

    def changed(self) -> bool:
        """Whether a commit may have happened since the last call (True on the first call)."""
        signature = self._signature()
        if signature == self._last:
            return False
        self._last = signature
        return True


def session_factory(engine: Engine, metadata: MetaData) -> sessionmaker[Session]:
    """Sessions that know their service's tables (the outbox helpers look them up there)."""
    return sessionmaker(engine, expire_on_commit=False, info={"metadata": metadata})


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (nothing half-written)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def insert_on_conflict(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``table`` that can say ``ON CONFLICT`` (DO NOTHING, DO UPDATE) in the named dialect (a
    session's is ``session.get_bind().dialect.name``): a repeated delivery never races into a duplicate-key error."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def ping(engine: Engine) -> None:
    """Raise if the database does not answer (used by /readyz)."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both databases: stored as UTC, read back as aware UTC.

    SQLite has no timezone type and would hand back naive values; this keeps both backends identical.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: every stored time must carry its offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DemandFacts:
    """A table keyed by demand with the facts every service copies from ``demand.submitted`` (routing's
    assignments, SLA's timed demands), declared once so that their sizes agree. ``sort_order`` maps them
    ahead of the table's own columns, in the order the migrations created them."""

    demand_id: Mapped[str] = mapped_column(String(36), primary_key=True, sort_order=-1)
    street: Mapped[str] = mapped_column(String(32), sort_order=-1)
    channel: Mapped[str] = mapped_column(String(32), sort_order=-1)
    category: Mapped[str] = mapped_column(String(64), sort_order=-1)
    complexity: Mapped[str] = mapped_column(String(16), sort_order=-1)


T = TypeVar("T")
_BEFORE_COMMIT = "before_commit_writes"


def per_transaction(session: Session, key: str, make: Callable[[], T]) -> T:
    """The value under ``key`` for the session's current transaction, made by ``make()`` on first use: what
    the transaction learnt (a key it checked, rows it locked and still holds) and that the next one must not
    trust."""
    transaction = session.get_transaction()
    if transaction is None:  # nothing begun yet: nothing to remember it by
        return make()
    held = session.info.get(key)
    if held is None or held[0] is not transaction:
        held = session.info[key] = (transaction, make())
    return held[1]


def before_commit(session: Session, key: str, make: Callable[[], T], write: Callable[[Session, T], None]) -> T:
    """The transaction's accumulator under ``key``, made by ``make()`` on first use; ``write(session, it)``
    runs once, inside the transaction, just before it commits, and it is dropped if the transaction rolls
    back. A transaction's many small writes (outbox rows, counter differences) so go out as one statement."""
    writes = session.info.get(_BEFORE_COMMIT)
    if writes is None:
        writes = session.info[_BEFORE_COMMIT] = {}
        if not session.info.get("before_commit_hooked"):
            session.info["before_commit_hooked"] = True
            event.listen(session, "before_commit", write_before_commit)
            event.listen(session, "after_rollback", _drop_before_commit)
    if key not in writes:
        writes[key] = (make(), write)
    return writes[key][0]


def write_before_commit(session: Session) -> None:
    """Run the session's pending :func:`before_commit` writes now (done by itself when it commits)."""
    for accumulated, write in session.info.pop(_BEFORE_COMMIT, {}).values():
        write(session, accumulated)


def _drop_before_commit(session: Session) -> None:
    session.info.pop(_BEFORE_COMMIT, None)


_AFTER_COMMIT = "after_commit_actions"


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` (e.g. a metric update) once the session's transaction commits.

    It is forgotten if that transaction rolls back, or if the savepoint it was registered in does (the
    consumer handles a batch in one transaction with a savepoint per event), so nothing counts twice.
    """
    if not session.info.get("after_commit_hooked"):
        session.info["after_commit_hooked"] = True
        event.listen(session, "after_commit", _run_after_commit)
        event.listen(session, "after_soft_rollback", _drop_after_commit)
    session.info.setdefault(_AFTER_COMMIT, []).append((session.get_nested_transaction(), action))


def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint committed; the transaction itself goes on
        return
    for _, action in session.info.pop(_AFTER_COMMIT, []):
        action()


def _drop_after_commit(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        return

    def inside(savepoint: SessionTransaction | None) -> bool:
        while savepoint is not None:
            if savepoint is previous:
                return True
            savepoint = savepoint.parent
        return False

    session.info[_AFTER_COMMIT] = [(sp, a) for sp, a in session.info.get(_AFTER_COMMIT, []) if not inside(sp)]
