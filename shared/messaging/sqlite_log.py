"""The embedded event log: an append-only table in one SQLite file shared by the local processes.

One global sequence orders every message (a single "partition" per topic). Each consumer group keeps a
committed position per topic; one process per group holds a short lease and consumes, the others wait,
which is how Kafka would assign a single partition. WAL mode lets readers run beside the writer.
A committed position carries a note (as Kafka's offset metadata does), written in the same statement.
"""

from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, insert, inspect, select, update

from shared.config import Settings
from shared.db import SqliteCommits, make_engine
from shared.messaging.bus import OutgoingMessage, Record, StoredMessage
from shared.messaging.codec import headers_from_text, message_columns, message_row

metadata = MetaData()
log_table = Table(
    "event_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False, index=True),
    *message_columns(),
    Column("appended_at", Float, nullable=False),
)


def _per_group(name: str, *columns: Column[object]) -> Table:
    """A table of what each consumer group holds in the log (its positions, its lease), keyed by the group."""
    return Table(name, metadata, Column("group_id", String(100), primary_key=True), *columns)


offsets_table = _per_group("group_offsets", Column("topic", String(200), primary_key=True),
                           Column("committed_seq", Integer, nullable=False),
                           Column("note", Text, nullable=False, server_default=""))
leases_table = _per_group("group_leases", Column("owner", String(100), nullable=False),
                          Column("expires_at", Float, nullable=False))
LEASE_SECONDS = 10.0
# An idle consumer naps this long between looks at the file's commit counter (a system call, not a query) ...
IDLE_NAP_S = 0.02
# ... and queries the log at least this often even when nothing seems to have changed (a safety net).
IDLE_LOOK_S = 1.0
_engines: dict[str, object] = {}


def _engine(url: str):  # noqa: ANN202 - private cache helper
    if url not in _engines:
        if url.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(url.removeprefix("sqlite:///")) or ".", exist_ok=True)
        engine = make_engine(url)
        metadata.create_all(engine)
        with engine.begin() as conn:  # an event log made before offsets carried a note
            columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(group_offsets)")}
            if "note" not in columns:
                conn.exec_driver_sql("ALTER TABLE group_offsets ADD COLUMN note TEXT NOT NULL DEFAULT ''")
        _engines[url] = engine
    return _engines[url]


class SqliteLogProducer:
    def __init__(self, url: str, prefix: str = "") -> None:
        self.engine = _engine(url)
        self.prefix = prefix

    def send_batch(self, messages: list[OutgoingMessage]) -> None:
        if not messages:
            return
        now = time.time()
        with self.engine.begin() as conn:
            conn.execute(
                insert(log_table),
                [{"topic": self.prefix + m.topic, **message_row(m), "appended_at": now} for m in messages],
            )

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def close(self) -> None:
        pass


class _GroupView:
    """One consumer group's topics in the log and the positions it committed (a consumer's or a lag reader's)."""

    def __init__(self, url: str, group: str, topics: list[str], prefix: str = "") -> None:
        self.engine = _engine(url)
        self.group = group
        self.prefix = prefix
        self.topics = [prefix + t for t in topics]

    def _committed(self, conn) -> dict[str, int]:  # noqa: ANN001 - a SQLAlchemy connection
        """The group's committed position per physical topic (0 before its first commit)."""
        rows = conn.execute(select(offsets_table.c.topic, offsets_table.c.committed_seq)
                            .where(offsets_table.c.group_id == self.group)).all()
        found = {r.topic: r.committed_seq for r in rows}
        return {t: found.get(t, 0) for t in self.topics}


class SqliteLogConsumer(_GroupView):
    def __init__(self, url: str, group: str, topics: list[str], prefix: str = "") -> None:
        super().__init__(url, group, topics, prefix)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._leased = False
        self._paused = False
        self._commits = SqliteCommits(self.engine)
        self._next_look = 0.0
        self._lease_until = 0.0

    def _hold_lease(self, conn) -> bool:  # noqa: ANN001 - a SQLAlchemy connection inside a transaction
        """Take or keep the group's lease; a lease held with more than half its time left is not rewritten (a
        write wakes every idle reader of the log)."""
        now = time.time()
        row = conn.execute(select(leases_table).where(leases_table.c.group_id == self.group)).first()
        if row is None:
            conn.execute(insert(leases_table).values(group_id=self.group, owner=self.owner,
                                                     expires_at=now + LEASE_SECONDS))
            self._lease_until = now + LEASE_SECONDS
            return True
        if row.owner == self.owner and row.expires_at - now > LEASE_SECONDS / 2:
            self._lease_until = row.expires_at
            return True
        if row.owner == self.owner or row.expires_at < now:
            conn.execute(update(leases_table).where(leases_table.c.group_id == self.group)
                         .values(owner=self.owner, expires_at=now + LEASE_SECONDS))
            self._lease_until = now + LEASE_SECONDS
            return True
        self._lease_until = row.expires_at  # another process's: look again when it may have lapsed
        return False

    def _worth_a_look(self) -> bool:
        """Whether the log may hold something new for this group: a commit since the last look, the lease due for
        renewal (or another's lapsing), or :data:`IDLE_LOOK_S` without a look."""
        now = time.monotonic()
        if self._commits.changed() or now >= self._next_look or time.time() > self._lease_until - LEASE_SECONDS / 2:
            self._next_look = now + IDLE_LOOK_S
            return True
        return False

    def poll(self, timeout_s: float, max_records: int = 500) -> list[Record]:
        deadline = time.monotonic() + timeout_s
        while True:
            if not self._worth_a_look():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                time.sleep(min(IDLE_NAP_S, remaining))
                continue
            with self.engine.begin() as conn:
                self._leased = self._hold_lease(conn)
                if self._leased and not self._paused:
                    committed = self._committed(conn)
                    rows = []
                    for topic, seq in committed.items():
                        rows += conn.execute(
                            select(log_table).where(log_table.c.topic == topic, log_table.c.seq > seq)
                            .order_by(log_table.c.seq).limit(max_records)
                        ).all()
                    rows.sort(key=lambda r: r.seq)
                    if rows:
                        return [
                            Record(
                                topic=r.topic.removeprefix(self.prefix), partition=0, offset=r.seq, key=r.message_key,
                                headers=headers_from_text(r.headers),
                                value=r.value,
                            )
                            for r in rows[:max_records]
                        ]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            time.sleep(min(IDLE_NAP_S, remaining))

    def commit(self, records: list[Record], note: str = "") -> None:
        latest: dict[str, int] = {}
        for r in records:
            topic = self.prefix + r.topic
            latest[topic] = max(latest.get(topic, 0), r.offset)
        if not latest:
            return
        with self.engine.begin() as conn:
            committed = self._committed(conn)
            for topic, seq in latest.items():
                values = {"group_id": self.group, "topic": topic, "committed_seq": seq, "note": note}
                exists = conn.execute(select(offsets_table.c.topic).where(
                    offsets_table.c.group_id == self.group, offsets_table.c.topic == topic)).first()
                if exists:
                    if seq > committed[topic]:
                        conn.execute(update(offsets_table).where(
                            offsets_table.c.group_id == self.group, offsets_table.c.topic == topic
                        ).values(committed_seq=seq, note=note))
                else:
                    conn.execute(insert(offsets_table).values(**values))

    def notes(self) -> list[str]:
        with self.engine.connect() as conn:
            return [n for n in conn.execute(select(offsets_table.c.note).where(
                offsets_table.c.group_id == self.group, offsets_table.c.topic.in_(self.topics))).scalars() if n]

    def assigned(self) -> bool:
        return self._leased

    def pause(self) -> None:
        self._paused = True

    def close(self) -> None:
        """Give the lease up so another process of the group can take over at once."""
        self._leased = False
        with self.engine.begin() as conn:
            conn.execute(update(leases_table).where(
                leases_table.c.group_id == self.group, leases_table.c.owner == self.owner
            ).values(expires_at=0))


class SqliteLagReader(_GroupView):
    """A group's lag read from the log itself: messages of each topic after its committed position."""

    def lag(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                topic.removeprefix(self.prefix): conn.execute(select(func.count()).select_from(log_table).where(
                    log_table.c.topic == topic, log_table.c.seq > seq)).scalar_one()
                for topic, seq in self._committed(conn).items()
            }

    def close(self) -> None:
        pass  # the engine is shared by the process's producers and consumers of this log


def read_topic(settings: Settings, topic: str) -> list[StoredMessage]:
    """Every message of the logical ``topic`` (one partition: the log's global sequence is the offset)."""
    engine = make_engine(settings.event_log_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(log_table.name):
                return []  # nothing was ever published
            rows = conn.execute(select(log_table).where(log_table.c.topic == settings.topic(topic))
                                .order_by(log_table.c.seq)).all()
    finally:
        engine.dispose()
    return [StoredMessage(topic, 0, r.seq, r.message_key,
                          headers_from_text(r.headers), r.value, r.appended_at)
            for r in rows]
