"""Transactional outbox and idempotent-consumer bookkeeping, shared by every service.

A service writes its state change and the event row in one transaction (:func:`emit`); the relay in
its worker publishes the rows in batches and deletes them only after the bus acknowledged them, so an
event can be published twice (consumers dedupe) but never lost. ``processed_events`` is written in the
same transaction as a handler's effects so that redelivery of an event changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import psycopg
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Session

from shared.contracts.events import CloudEvent, topic_of
from shared.db import SqliteCommits, before_commit, is_sqlite
from shared.messaging.bus import OutgoingMessage, Producer
from shared.messaging.codec import headers_from_text, message_columns, message_row, to_message
from shared.messaging.inbox import add_processed_table
from shared.metrics import OUTBOX_PUBLISHED

log = logging.getLogger(__name__)


def add_bookkeeping_tables(metadata: MetaData) -> tuple[Table, Table]:
    """Declare ``outbox`` and ``processed_events`` in a service's own metadata."""
    outbox = Table(
        "outbox",
        metadata,
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
        Column("topic", String(100), nullable=False),
        *message_columns(),
        Column("created_at", Float, nullable=False),
    )
    return outbox, add_processed_table(metadata)


PENDING = "outbox_pending"  # the session's events not yet written, in the order they were emitted


def emit(session: Session, event: CloudEvent) -> None:
    """Queue ``event`` in the caller's transaction; it is published only if that transaction commits.

    The rows are written just before the commit, all of the transaction's events in one statement (a batch
    of 100 handled events emitting 150 is one INSERT, one NOTIFY), in the order they were emitted.
    """
    row = message_row(to_message(event))
    pending = before_commit(session, PENDING, list, _write_rows)
    pending.append({"topic": topic_of(event), **row, "created_at": time.time()})


def _write_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """One multi-row INSERT through SQLAlchemy's "insertmanyvalues" (a statement compiled once; a plain executemany
    would be a statement per row on the server), ids given in the rows' order: the relay publishes by id."""
    outbox = _table(session, "outbox")
    session.execute(insert(outbox).returning(outbox.c.id, sort_by_parameter_order=True), rows)


def _table(session: Session, name: str) -> Table:
    return session.info["metadata"].tables[name]


NOTIFY_CHANNEL = "yangpu_outbox"
SQLITE_IDLE_WAIT_S = 0.02


def create_notify_trigger(op: Any) -> None:
    """Migration step: on PostgreSQL every insert into the outbox wakes the relay (``LISTEN`` below).

    A statement-level trigger costs the hot path no extra round trip; several notifications in one
    transaction are folded into one by PostgreSQL. SQLite has no NOTIFY: its relay polls the outbox.
    """
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$""")
    op.execute("CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
               "FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()")


def drop_notify_trigger(op: Any) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")


class OutboxRelay:
    """Publishes a service's outbox in batches, from one leader at a time, deleting only what it published.

    Ordering guarantee: **per demand** (per message key), not global. Outbox ids are taken at INSERT, not
    at COMMIT, so a transaction holding a lower id may become visible after a higher one was published;
    the relay therefore never deletes "everything up to the last id" but exactly the rows it sent, and a
    late-committing row is published on a later pass. One demand's events are produced causally (each by
    a transaction that began after the previous one committed), so the earlier is always visible when the
    later is, and within a batch rows go out in id order: the bus receives each demand's events in order.

    A single active relay per database: on PostgreSQL a transaction-scoped advisory lock elects it, on
    SQLite the write lock of ``BEGIN IMMEDIATE`` does. After a failed publish (the bus is away) the next
    batches are small and grow again as they succeed, so recovery starts at once and a batch that timed
    out is re-sent at a small size rather than as a storm of duplicates (consumers dedupe those anyway).
    """

    RETRY_BATCH_SIZE = 50

    def __init__(self, service: str, engine: Engine, metadata: MetaData, producer: Producer,
                 batch_size: int = 500) -> None:
        self.service = service
        self.engine = engine
        self.outbox = metadata.tables["outbox"]
        self.producer = producer
        self.max_batch_size = batch_size
        self.batch_size = batch_size
        self._lock_key = 0x0_7A_4E_9B  # any constant: one relay per database
        self._listener: psycopg.Connection | None = None
        self._commits = SqliteCommits(engine) if is_sqlite(engine) else None
        oldest = select(self.outbox.c.id).order_by(self.outbox.c.id).limit(bindparam("batch_size"))
        if not is_sqlite(engine):
            oldest = oldest.where(select(func.pg_try_advisory_xact_lock(self._lock_key)).scalar_subquery())
        self._take = delete(self.outbox).where(self.outbox.c.id.in_(oldest)).returning(*self.outbox.c)

    def run_once(self) -> int:
        """Publish one batch; returns how many events went out (0 when idle or not the leader).

        One statement takes the batch: it deletes the oldest rows and returns them, and on PostgreSQL it first
        tries the leader's advisory lock (an uncorrelated sub-select, evaluated once), so a pass costs one round
        trip and an idle or follower pass finds nothing. The deletion commits only after the bus acknowledged
        the batch: a failed publish raises, the transaction rolls back and the rows are there again.
        """
        with self.engine.begin() as conn:
            rows = sorted(conn.execute(self._take, {"batch_size": self.batch_size}).all(), key=lambda row: row.id)
            if not rows:
                return 0
            try:
                self.producer.send_batch([
                    OutgoingMessage(topic=row.topic, key=row.message_key, headers=headers_from_text(row.headers),
                                    value=row.value)
                    for row in rows
                ])
            except Exception:
                self.batch_size = min(self.batch_size, self.RETRY_BATCH_SIZE)
                raise
        self.batch_size = min(self.max_batch_size, self.batch_size * 2)
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    def wait(self, timeout_s: float, stopping: threading.Event) -> None:
        """Block until the outbox may hold rows: a NOTIFY from an insert (PostgreSQL); on SQLite a commit to the
        service's file by any process (its commit counter, looked at every few milliseconds), or ``timeout_s``."""
        if self._commits is not None:
            deadline = time.monotonic() + timeout_s
            while not self._commits.changed() and time.monotonic() < deadline:
                if stopping.wait(SQLITE_IDLE_WAIT_S):
                    return
            return
        if self._listener is None:
            self._listener = psycopg.connect(
                self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True)
            self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            return  # rows committed before LISTEN sent no notice: look at the outbox once more first
        try:
            for _ in self._listener.notifies(timeout=timeout_s, stop_after=1):
                pass
        except psycopg.Error:
            self._listener.close()
            self._listener = None
            raise

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def depth(self) -> tuple[int, float | None]:
        """Rows waiting and the creation time of the oldest, for the outbox gauges."""
        with self.engine.connect() as conn:
            count, oldest = conn.execute(
                select(func.count(), func.min(self.outbox.c.created_at)).select_from(self.outbox)
            ).one()
        return int(count), oldest
