"""Apache Kafka through kafka-python, tuned for milliseconds from outbox to handler.

Producer: acks=all and idempotence, so a retried send is not duplicated by the broker. Consumer: manual
commits only, after the handler's transaction; fetches are long polls (the broker answers as soon as a
record arrives, so the wait costs no latency, and an idle consumer sends ten requests a second rather than
hundreds), in a thread of their own so nothing else waits on them; and a short session timeout so a killed
worker's partitions move on within seconds.
"""

from __future__ import annotations

import logging

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from shared.bus import OutgoingMessage, Record
from shared.config import Settings
from shared.events import TOPICS, dlq_topic

log = logging.getLogger(__name__)
PARTITIONS = 6


def ensure_topics(settings: Settings) -> None:
    """Create the suite's topics and their dead-letter topics if they do not exist yet."""
    names = [settings.topic(t) for t in TOPICS] + [settings.topic(dlq_topic(t)) for t in TOPICS]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, client_id="yangpu-admin")
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


class KafkaBusProducer:
    def __init__(self, settings: Settings, client_id: str) -> None:
        self.settings = settings
        self.producer = KafkaProducer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            retries=10,
            linger_ms=1,
            request_timeout_ms=10_000,
            max_block_ms=10_000,  # a broker that is down fails the relay's batch quickly; the rows stay
            metrics_enabled=False,  # the client's own metrics cost CPU on every request; ours are in Prometheus
        )

    def send_batch(self, messages: list[OutgoingMessage]) -> None:
        futures = [
            self.producer.send(self.settings.topic(m.topic), key=m.key.encode() if m.key is not None else None,
                               value=m.value,
                               headers=list(m.headers.items()))
            for m in messages
        ]
        self.producer.flush(timeout=30)
        for f in futures:
            f.get(timeout=30)  # raises the send's error: the outbox rows stay and are retried

    def ping(self) -> None:
        if not self.producer.bootstrap_connected():
            self.producer.partitions_for(self.settings.topic(TOPICS[0]))

    def close(self) -> None:
        self.producer.close(timeout=10)


class KafkaBusConsumer:
    def __init__(self, settings: Settings, group: str, topics: list[str]) -> None:
        self.prefix = settings.topic_prefix
        self.consumer = KafkaConsumer(
            *[settings.topic(t) for t in topics],
            bootstrap_servers=settings.kafka_bootstrap_servers,
            group_id=settings.topic_prefix + group,  # runs isolated by a prefix share no group either
            client_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=100,  # a long poll: the broker answers at once when a record arrives
            fetch_min_bytes=1,
            max_poll_records=500,
            session_timeout_ms=6_000,
            heartbeat_interval_ms=1_000,
            metrics_enabled=False,
        )
        # Fetch the topics' partitions before the first poll joins the group: a group leader that assigns
        # without them gives every member nothing, and the group then idles until the next metadata refresh.
        for topic in topics:
            self.consumer.partitions_for_topic(settings.topic(topic))

    def poll(self, timeout_s: float, max_records: int = 500) -> list[Record]:
        batches = self.consumer.poll(timeout_ms=int(timeout_s * 1000), max_records=max_records)
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

    def commit(self, records: list[Record]) -> None:
        latest: dict[TopicPartition, int] = {}
        for r in records:
            tp = TopicPartition(self.prefix + r.topic, r.partition)
            latest[tp] = max(latest.get(tp, -1), r.offset)
        if latest:
            self.consumer.commit({tp: OffsetAndMetadata(off + 1, "", -1) for tp, off in latest.items()})

    def lag(self) -> dict[str, int]:
        assigned = list(self.consumer.assignment())
        if not assigned:
            return {}
        ends = self.consumer.end_offsets(assigned)
        lag: dict[str, int] = {}
        for tp in assigned:
            committed = self.consumer.committed(tp) or 0
            topic = tp.topic.removeprefix(self.prefix)
            lag[topic] = lag.get(topic, 0) + max(0, ends[tp] - committed)
        return lag

    def close(self) -> None:
        self.consumer.close(autocommit=False)
