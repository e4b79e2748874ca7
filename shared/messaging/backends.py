"""The one place ``EVENT_BUS`` is read: each factory returns the Kafka or the embedded-log implementation.

Everything else asks for a producer, a consumer, a lag reader, a topic reader or the topics through these
functions and never names a backend, so the embedded default and production run the same code.
"""

from __future__ import annotations

from shared.config import Settings
from shared.messaging.bus import Consumer, LagReader, Producer, StoredMessage


def is_kafka(settings: Settings) -> bool:
    return settings.event_bus == "kafka"


def ensure_topics(settings: Settings, extra: set[str] | None = None) -> None:
    """Create the suite's topics (and ``extra`` logical topics) where the bus needs them made first."""
    if is_kafka(settings):
        from shared.messaging.kafka import ensure_topics as ensure_kafka_topics

        ensure_kafka_topics(settings, extra)


def delete_topics(settings: Settings) -> None:
    """Remove an environment's topics (its prefix) where the bus keeps them apart from other runs."""
    if is_kafka(settings):
        from shared.messaging.kafka import delete_topics as delete_kafka_topics

        delete_kafka_topics(settings)


def make_producer(settings: Settings, client_id: str) -> Producer:
    if is_kafka(settings):
        from shared.messaging.kafka import KafkaBusProducer

        return KafkaBusProducer(settings, client_id)
    from shared.messaging.sqlite_log import SqliteLogProducer

    return SqliteLogProducer(settings.event_log_url, settings.topic_prefix)


def make_consumer(settings: Settings, group: str, topics: list[str]) -> Consumer:
    """A consumer of the logical ``topics``."""
    if is_kafka(settings):
        from shared.messaging.kafka import KafkaBusConsumer

        return KafkaBusConsumer(settings, group, topics)
    from shared.messaging.sqlite_log import SqliteLogConsumer

    return SqliteLogConsumer(settings.event_log_url, group, topics, settings.topic_prefix)


def make_lag_reader(settings: Settings, group: str, topics: list[str]) -> LagReader:
    """The broker-side lag of ``group`` on the logical ``topics``."""
    if is_kafka(settings):
        from shared.messaging.kafka import KafkaLagReader

        return KafkaLagReader(settings, group, topics)
    from shared.messaging.sqlite_log import SqliteLagReader

    return SqliteLagReader(settings.event_log_url, group, topics, settings.topic_prefix)


def read_topic(settings: Settings, topic: str) -> list[StoredMessage]:
    """Every message of the logical ``topic`` from its start to its current end, without joining a group."""
    if is_kafka(settings):
        from shared.messaging.kafka import read_topic as read_kafka_topic

        return read_kafka_topic(settings, topic)
    from shared.messaging.sqlite_log import read_topic as read_log_topic

    return read_log_topic(settings, topic)


def ping(settings: Settings) -> None:
    """Raise unless the event bus answers: a Kafka bootstrap server accepts a connection, or the log opens."""
    if is_kafka(settings):
        from shared.messaging.kafka import ping as ping_kafka

        ping_kafka(settings)
        return
    from shared.messaging.sqlite_log import SqliteLogProducer

    SqliteLogProducer(settings.event_log_url).ping()
