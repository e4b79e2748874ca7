"""The one bus interface, with two implementations chosen by ``EVENT_BUS``.

``sqlite``: the embedded event log (:mod:`shared.bus_sqlite`), no server needed.
``kafka``: Apache Kafka through kafka-python (:mod:`shared.bus_kafka`).
Both give at-least-once delivery per consumer group, ordered per message key, with offsets committed
only after the handler's transaction committed. Application code sees logical topic names only
(``demand.events``); an implementation adds ``TOPIC_PREFIX`` (used to isolate test runs) on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cloudevents.core.bindings.kafka import KafkaMessage

from shared.config import Settings


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str | None
    headers: dict[str, bytes]
    value: bytes


@dataclass(frozen=True)
class Record:
    """A consumed message and where it sits in its topic (for committing)."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, bytes] = field(default_factory=dict)
    value: bytes = b""

    def as_kafka_message(self) -> KafkaMessage:
        return KafkaMessage(headers=self.headers, key=self.key, value=self.value)


class Producer(Protocol):
    def send_batch(self, messages: list[OutgoingMessage]) -> None:
        """Publish all messages and return once the bus acknowledged every one (raise otherwise)."""

    def ping(self) -> None:
        """Raise if the bus cannot be reached."""

    def close(self) -> None: ...


class Consumer(Protocol):
    """One member of a consumer group. Implementations connect lazily, on first use, so that building one
    never fails: a bus that is down surfaces as an error of ``poll``, which the worker's loop retries."""

    def poll(self, timeout_s: float, max_records: int = 500) -> list[Record]:
        """Next records for this group, in order per key; empty after ``timeout_s`` if none (always empty
        once paused)."""

    def commit(self, records: list[Record], note: str = "") -> None:
        """Mark these records (and everything before them in their partitions) as done, storing ``note``
        with each partition's offset in the same write."""

    def notes(self) -> list[str]:
        """The notes stored with this group's committed offsets, one per partition that has one."""

    def assigned(self) -> bool:
        """Whether this member currently owns partitions (Kafka) or the group's lease (event log)."""

    def pause(self) -> None:
        """Fetch nothing from now on but stay a member: a halted consumer keeps its partitions (or lease)
        so that no other member of the group takes the events it stopped at."""

    def close(self) -> None: ...


class LagReader(Protocol):
    """Reads a group's lag from the bus's side (committed offsets against the end of each topic), with
    clients of its own: it keeps telling the truth when the group's consumer thread is dead."""

    def lag(self) -> dict[str, int]:
        """Messages not yet committed by the group, per logical topic."""

    def close(self) -> None: ...


def make_producer(settings: Settings, client_id: str) -> Producer:
    if settings.event_bus == "kafka":
        from shared.bus_kafka import KafkaBusProducer

        return KafkaBusProducer(settings, client_id)
    from shared.bus_sqlite import SqliteLogProducer

    return SqliteLogProducer(settings.event_log_url, settings.topic_prefix)


def make_consumer(settings: Settings, group: str, topics: list[str]) -> Consumer:
    """A consumer of the logical ``topics``."""
    if settings.event_bus == "kafka":
        from shared.bus_kafka import KafkaBusConsumer

        return KafkaBusConsumer(settings, group, topics)
    from shared.bus_sqlite import SqliteLogConsumer

    return SqliteLogConsumer(settings.event_log_url, group, topics, settings.topic_prefix)


def make_lag_reader(settings: Settings, group: str, topics: list[str]) -> LagReader:
    """The broker-side lag of ``group`` on the logical ``topics``."""
    if settings.event_bus == "kafka":
        from shared.bus_kafka import KafkaLagReader

        return KafkaLagReader(settings, group, topics)
    from shared.bus_sqlite import SqliteLagReader

    return SqliteLagReader(settings.event_log_url, group, topics, settings.topic_prefix)
