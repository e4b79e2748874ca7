"""Apache Kafka through kafka-python, tuned for milliseconds from outbox to handler.

Producer: acks=all and idempotence, so a retried send is not duplicated by the broker. Consumer: manual
commits only, after the handler's transaction; fetches are long polls (the broker answers as soon as a
record arrives, so the wait costs no latency, and an idle consumer sends ten requests a second rather than
hundreds), in a thread of their own so nothing else waits on them; and a short session timeout so a killed
worker's partitions move on within seconds.

Producer and consumer connect on first use, never in their constructor: a broker that is down makes a send
or a poll fail, and the worker's loop retries it with back-off, however long the outage lasts. Every call
that waits on the broker has a bound, so a loop never hangs on one attempt.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError
from kafka.net.compat import KafkaNetClient
from kafka.structs import OffsetAndMetadata

from shared.config import Settings
from shared.contracts.events import TOPICS, dlq_topic
from shared.messaging.bus import OutgoingMessage, Record, StoredMessage

log = logging.getLogger(__name__)
PARTITIONS = 6
REQUEST_TIMEOUT_MS = 10_000  # a commit or an offset lookup that takes longer fails, and its loop retries
# kafka-python's own reconnect back-off grows to 30 s by default: after an outage a client could sit idle
# that long. Ours tops out at 5 s, like the worker loops' back-off.
RECONNECT_BACKOFF_MAX_MS = 5_000
READ_TIMEOUT_S = 30.0  # reading a topic to its end; more means the broker is not answering


def _build(cls: Any, settings: Settings, *args: Any, **config: Any) -> Any:
    """A kafka-python client bootstrapped within ``KAFKA_BOOTSTRAP_TIMEOUT_MS``, or an error leaving nothing.

    kafka-python 3 starts a client's IO thread before it bootstraps, and a constructor that raises leaves
    that thread running: a loop retrying through a long outage would pile up one thread per attempt. So the
    network client is made through a factory that keeps hold of it, and closed when construction fails.
    """
    made: list[KafkaNetClient] = []

    def network_client(**kwargs: Any) -> KafkaNetClient:
        made.append(KafkaNetClient(**kwargs))
        return made[-1]

    try:
        return cls(*args, bootstrap_servers=settings.kafka_bootstrap_servers,
                   bootstrap_timeout_ms=settings.kafka_bootstrap_timeout_ms,
                   reconnect_backoff_max_ms=RECONNECT_BACKOFF_MAX_MS, kafka_client=network_client, **config)
    except BaseException:
        for client in made:
            client.close()
        raise


def ensure_topics(settings: Settings, extra: set[str] | None = None) -> None:
    """Create the suite's topics, their dead-letter topics and ``extra`` ones if they do not exist yet."""
    logical = [*TOPICS, *(dlq_topic(t) for t in TOPICS), *sorted(extra or ())]
    names = [settings.topic(t) for t in logical]
    admin = _build(KafkaAdminClient, settings, client_id="yangpu-admin", request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        existing = set(admin.list_topics())
        missing = {n: {"num_partitions": PARTITIONS, "replication_factor": 1} for n in names if n not in existing}
        if missing:
            try:
                admin.create_topics(missing, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                pass  # another process created it first
    finally:
        admin.close()


def delete_topics(settings: Settings) -> None:
    """Delete every topic of this settings' prefix (a finished test's or bench's), freeing the broker's files."""
    if not settings.topic_prefix:
        raise ValueError("refusing to delete topics without a prefix: that would be every topic")
    admin = _build(KafkaAdminClient, settings, client_id="yangpu-admin", request_timeout_ms=REQUEST_TIMEOUT_MS)
    try:
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
    finally:
        admin.close()


class KafkaBusProducer:
    def __init__(self, settings: Settings, client_id: str) -> None:
        self.settings = settings
        self.client_id = client_id
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()  # the relay and the consumer's dead letters share one producer

    @property
    def producer(self) -> KafkaProducer:
        """The kafka-python producer, connected on first use."""
        with self._lock:
            if self._producer is None:
                self._producer = _build(
                    KafkaProducer, self.settings,
                    client_id=self.client_id,
                    acks="all",
                    enable_idempotence=True,
                    retries=10,
                    linger_ms=1,
                    request_timeout_ms=REQUEST_TIMEOUT_MS,
                    max_block_ms=10_000,  # a broker that is down fails the relay's batch quickly; the rows stay
                    metrics_enabled=False,  # the client's own metrics cost CPU on every request; ours are in Prometheus
                )
            return self._producer

    def send_batch(self, messages: list[OutgoingMessage]) -> None:
        producer = self.producer
        futures = [
            producer.send(self.settings.topic(m.topic), key=m.key.encode() if m.key is not None else None,
                          value=m.value,
                          headers=list(m.headers.items()))
            for m in messages
        ]
        producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)  # raises the send's error: the outbox rows stay and are retried

    def ping(self) -> None:
        producer = self.producer
        if not producer.bootstrap_connected():
            producer.partitions_for(self.settings.topic(TOPICS[0]))

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)


class KafkaBusConsumer:
    def __init__(self, settings: Settings, group: str, topics: list[str]) -> None:
        self.settings = settings
        self.prefix = settings.topic_prefix
        self.group = group
        self.topics = [settings.topic(t) for t in topics]
        self._consumer: KafkaConsumer | None = None
        self._lock = threading.Lock()  # tests look at the assignment from another thread
        self._paused = False

    @property
    def consumer(self) -> KafkaConsumer:
        """The kafka-python consumer, connected (and subscribed) on first use."""
        with self._lock:
            if self._consumer is None:
                consumer = _build(
                    KafkaConsumer, self.settings, *self.topics,
                    group_id=self.prefix + self.group,  # runs isolated by a prefix share no group either
                    client_id=self.group,
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    # A long poll: the broker answers at once when a record arrives, so a longer wait costs no
                    # latency, only fewer empty round trips while idle.
                    fetch_max_wait_ms=500,
                    fetch_min_bytes=1,
                    max_poll_records=500,
                    session_timeout_ms=6_000,
                    heartbeat_interval_ms=1_000,
                    request_timeout_ms=REQUEST_TIMEOUT_MS,
                    metrics_enabled=False,
                )
                try:
                    # Fetch the topics' partitions before the first poll joins the group: a group leader that
                    # assigns without them gives every member nothing, and the group then idles until the
                    # next metadata refresh.
                    for topic in self.topics:
                        consumer.partitions_for_topic(topic)
                except BaseException:
                    consumer.close(autocommit=False, timeout_ms=REQUEST_TIMEOUT_MS)
                    raise
                self._consumer = consumer
            return self._consumer

    def poll(self, timeout_s: float, max_records: int = 500) -> list[Record]:
        consumer = self.consumer
        if self._paused:
            consumer.pause(*consumer.assignment())  # partitions a rebalance hands over arrive unpaused
            consumer.poll(timeout_ms=int(timeout_s * 1000))  # stays in the group; anything fetched is dropped
            return []
        batches = consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        records = [
            Record(
                topic=r.topic.removeprefix(self.prefix), partition=r.partition, offset=r.offset,
                key=r.key.decode() if r.key is not None else None,
                headers={k: v for k, v in (r.headers or [])},
                value=r.value or b"",
            )
            for batch in batches.values()
            for r in batch
        ]
        return records

    def commit(self, records: list[Record], note: str = "") -> None:
        latest: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(self.prefix + r.topic, r.partition)
            latest[tp] = max(latest.get(tp, -1), r.offset)
        if latest:
            self.consumer.commit({tp: OffsetAndMetadata(off + 1, note, -1) for tp, off in latest.items()},
                                 timeout_ms=REQUEST_TIMEOUT_MS)

    def notes(self) -> list[str]:
        """The metadata strings committed with the group's offsets (one OffsetFetch per partition)."""
        consumer = self.consumer
        found = []
        for topic in self.topics:
            for partition in sorted(consumer.partitions_for_topic(topic)):
                committed = consumer.committed(TopicPartition(topic, partition), metadata=True,
                                               timeout_ms=REQUEST_TIMEOUT_MS)
                if committed is not None and committed.metadata:
                    found.append(committed.metadata)
        return found

    def assigned(self) -> bool:
        return self._consumer is not None and bool(self._consumer.assignment())

    def pause(self) -> None:
        self._paused = True

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close(autocommit=False, timeout_ms=REQUEST_TIMEOUT_MS)


class KafkaLagReader:
    """A group's lag as the broker sees it: its committed offsets (an admin client's OffsetFetch) against
    the partitions' end offsets (a consumer in no group). Neither client belongs to the group's consumer, so
    a consume thread that died shows a lag that keeps rising instead of its last value."""

    def __init__(self, settings: Settings, group: str, topics: list[str]) -> None:
        self.settings = settings
        self.prefix = settings.topic_prefix
        self.group_id = settings.topic_prefix + group
        self.client_id = f"{group}-lag"
        self.topics = [settings.topic(t) for t in topics]
        self._admin: KafkaAdminClient | None = None
        self._ends: KafkaConsumer | None = None

    def lag(self) -> dict[str, int]:
        try:
            return self._read()
        except BaseException:
            self.close()  # clients in an unknown state: the next reading builds fresh ones
            raise

    def _read(self) -> dict[str, int]:
        if self._admin is None:
            self._admin = _build(KafkaAdminClient, self.settings, client_id=self.client_id,
                                 request_timeout_ms=REQUEST_TIMEOUT_MS)
        if self._ends is None:
            self._ends = _build(KafkaConsumer, self.settings, group_id=None, client_id=self.client_id,
                                enable_auto_commit=False, request_timeout_ms=REQUEST_TIMEOUT_MS,
                                metrics_enabled=False)
        committed = self._admin.list_group_offsets({self.group_id: None}).get(self.group_id, {})
        partitions = [TopicPartition(t, p) for t in self.topics for p in sorted(self._ends.partitions_for_topic(t))]
        ends = self._ends.end_offsets(partitions, timeout_ms=REQUEST_TIMEOUT_MS)
        # a partition the group never committed is read from its beginning (auto_offset_reset=earliest)
        never = [tp for tp in partitions if tp not in committed or committed[tp].offset < 0]
        starts = self._ends.beginning_offsets(never, timeout_ms=REQUEST_TIMEOUT_MS) if never else {}
        lag = {t.removeprefix(self.prefix): 0 for t in self.topics}
        for tp in partitions:
            done = starts[tp] if tp in starts else committed[tp].offset
            lag[tp.topic.removeprefix(self.prefix)] += max(0, ends[tp] - done)
        return lag

    def close(self) -> None:
        admin, ends, self._admin, self._ends = self._admin, self._ends, None, None
        if admin is not None:
            admin.close()
        if ends is not None:
            ends.close(autocommit=False, timeout_ms=REQUEST_TIMEOUT_MS)


def read_topic(settings: Settings, topic: str) -> list[StoredMessage]:
    """Assign every partition, seek to the beginning and read up to the end offsets taken at the start."""
    name = settings.topic(topic)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=None,
                             client_id="yangpu-dlq", enable_auto_commit=False, allow_auto_create_topics=False,
                             metrics_enabled=False)
    try:
        partitions = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name))]
        if not partitions:
            return []  # the topic does not exist (yet)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions, timeout_ms=int(READ_TIMEOUT_S * 1000))
        pending = {tp for tp in partitions if consumer.position(tp) < ends[tp]}
        found: list[StoredMessage] = []
        deadline = time.monotonic() + READ_TIMEOUT_S
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {name} to its end in {READ_TIMEOUT_S:.0f} s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                found += [StoredMessage(topic, r.partition, r.offset, r.key.decode() if r.key is not None else None,
                                        dict(r.headers or []), r.value or b"", r.timestamp / 1000)
                          for r in batch if r.offset < ends[tp]]
            pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
    finally:
        consumer.close(autocommit=False)
    return sorted(found, key=lambda m: (m.partition, m.offset))


def ping(settings: Settings) -> None:
    """Raise unless a bootstrap server accepts a TCP connection (what /readyz asks, in well under a second)."""
    errors = []
    for server in settings.kafka_bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except OSError as exc:
            errors.append(f"{server}: {exc}")
    raise ConnectionError("; ".join(errors))
