"""The one bus interface; :mod:`shared.messaging.backends` picks its implementation by ``EVENT_BUS``.

``sqlite``: the embedded event log (:mod:`shared.messaging.sqlite_log`), no server needed.
``kafka``: Apache Kafka through kafka-python (:mod:`shared.messaging.kafka`).
Both give at-least-once delivery per consumer group, ordered per message key, with offsets committed
only after the handler's transaction committed. Application code sees logical topic names only
(``demand.events``); an implementation adds ``TOPIC_PREFIX`` (used to isolate test runs) on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from cloudevents.core.bindings.kafka import KafkaMessage


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


@dataclass(frozen=True)
class StoredMessage:
    """A message as the bus stores it (logical topic name), read without a consumer group."""

    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, bytes]
    value: bytes
    timestamp: float  # seconds since the epoch: when it was appended (for a dead letter, when it died)

    @property
    def position(self) -> str:
        """``partition:offset``, what an operator passes to ``show`` and ``replay``."""
        return f"{self.partition}:{self.offset}"

    def header(self, name: str) -> str:
        return self.headers.get(name, b"").decode(errors="replace")


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
