"""The event backbone on both backends: outbox, relay, ordering, idempotent consumers and dead letters."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from shared.contracts.events import DEMAND_EVENTS, dlq_topic, new_event
from shared.db import unit_of_work
from shared.messaging.backends import make_consumer, make_lag_reader, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from shared.messaging.consumer import EventProcessor
from shared.messaging.outbox import OutboxRelay, add_bookkeeping_tables, emit

pytestmark = pytest.mark.both_backends

metadata = MetaData()
applied = Table("applied", metadata, Column("event_id", String(64), primary_key=True),
                Column("demand_id", String(36)), Column("type", String(100)))
outbox, processed = add_bookkeeping_tables(metadata)


def ack(demand_id: str, actor: str = "com-1") -> object:
    return new_event("yangpu.demand.acknowledged.v1", {"demand_id": demand_id, "street": "daqiao", "actor_id": actor,
                                                       "at": datetime.now(UTC)}, source="/test")


@pytest.fixture
def bus(env, open_bus):
    return open_bus(env, metadata)


def drain(processor: EventProcessor, want: int, timeout_s: float = 30) -> int:
    deadline = time.monotonic() + timeout_s
    taken = 0
    while taken < want and time.monotonic() < deadline:
        taken += processor.run_once(0.2)
    return taken


def count(sessions, table) -> int:
    with unit_of_work(sessions) as s:
        return s.execute(select(func.count()).select_from(table)).scalar_one()


def test_outbox_event_is_published_only_when_its_transaction_commits(bus):
    settings, engine, sessions = bus
    with pytest.raises(RuntimeError), unit_of_work(sessions) as s:
        emit(s, ack("rolled-back"))
        raise RuntimeError("the state change failed")
    with unit_of_work(sessions) as s:
        emit(s, ack("committed"))
    producer = make_producer(settings, "test")
    assert OutboxRelay("test", engine, metadata, producer).run_once() == 1
    assert count(sessions, outbox) == 0

    consumer = make_consumer(settings, "g-commit", [DEMAND_EVENTS])
    seen = []

    def handler(session, event, data):
        seen.append(data["demand_id"])

    processor = EventProcessor("test", "g-commit", consumer, producer, sessions,
                               {"yangpu.demand.acknowledged.v1": handler})
    drain(processor, 1)
    assert seen == ["committed"]
    consumer.close()
    producer.close()


def test_events_of_one_demand_arrive_in_order_and_redelivery_changes_nothing(bus):
    settings, engine, sessions = bus
    producer = make_producer(settings, "test")
    events = [ack(f"d{i % 3}", actor=f"a{i}") for i in range(30)]
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events])

    def handler(session, event, data):
        session.execute(insert(applied).values(event_id=event.get_id(), demand_id=data["demand_id"],
                                               type=event.get_type()))

    handlers = {"yangpu.demand.acknowledged.v1": handler}
    consumer = make_consumer(settings, "g-order", [DEMAND_EVENTS])
    processor = EventProcessor("test", "g-order", consumer, producer, sessions, handlers)
    assert drain(processor, 30) == 30
    consumer.close()
    with unit_of_work(sessions) as s:
        order = s.execute(select(applied.c.demand_id, applied.c.event_id)).all()
    for demand in ("d0", "d1", "d2"):
        expected = [e.get_id() for e in events if e.get_subject() == demand]
        assert [eid for d, eid in order if d == demand] == expected

    # the same events delivered again (a crash before the offset commit): nothing is applied twice
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events[:10]])
    consumer = make_consumer(settings, "g-order", [DEMAND_EVENTS])
    processor = EventProcessor("test", "g-order", consumer, producer, sessions, handlers)
    assert drain(processor, 10) == 10
    consumer.close()
    assert count(sessions, applied) == 30
    producer.close()


def test_invalid_and_failing_events_go_to_the_dead_letter_topic_and_the_consumer_moves_on(bus):
    settings, engine, sessions = bus
    producer = make_producer(settings, "test")
    good = ack("fine")
    poison = ack("poison")
    bad_schema = new_event("yangpu.demand.acknowledged.v1", {"demand_id": "x", "street": "daqiao", "actor_id": "a",
                                                             "at": datetime.now(UTC)}, source="/test")
    bad_message = to_message(bad_schema)
    producer.send_batch([
        OutgoingMessage(DEMAND_EVENTS, "junk", {"ce_type": b"nonsense"}, b"not json"),
        OutgoingMessage(DEMAND_EVENTS, "x", bad_message.headers, b'{"demand_id": "x"}'),
        OutgoingMessage(DEMAND_EVENTS, "poison", to_message(poison).headers, to_message(poison).value),
        OutgoingMessage(DEMAND_EVENTS, "fine", to_message(good).headers, to_message(good).value),
    ])

    def handler(session, event, data):
        if data["demand_id"] == "poison":
            raise ValueError("this handler always fails on poison")
        session.execute(insert(applied).values(event_id=event.get_id(), demand_id=data["demand_id"],
                                               type=event.get_type()))

    consumer = make_consumer(settings, "g-dlq", [DEMAND_EVENTS])
    processor = EventProcessor("test", "g-dlq", consumer, producer, sessions,
                               {"yangpu.demand.acknowledged.v1": handler})
    assert drain(processor, 4) == 4
    consumer.close()
    with unit_of_work(sessions) as s:
        assert s.execute(select(applied.c.demand_id)).scalars().all() == ["fine"]

    dead = make_consumer(settings, "g-dlq-reader", [dlq_topic(DEMAND_EVENTS)])
    records = []
    deadline = time.monotonic() + 30
    while len(records) < 3 and time.monotonic() < deadline:
        records += dead.poll(0.2)
    dead.close()
    reasons = {r.key: r.headers["dlq_reason"].decode() for r in records}
    assert set(reasons) == {"junk", "x", "poison"}
    assert "not a CloudEvent" in reasons["junk"] or "invalid event" in reasons["junk"]
    assert "actor_id" in reasons["x"]
    assert "failed 3 times" in reasons["poison"]
    producer.close()


def poll_until(consumer, want: int, timeout_s: float = 30) -> list:
    records: list = []
    deadline = time.monotonic() + timeout_s
    while len(records) < want and time.monotonic() < deadline:
        records += consumer.poll(0.2)
    return records


def test_a_commit_keeps_its_note_and_a_paused_consumer_takes_nothing_but_keeps_its_place(bus):
    settings, engine, sessions = bus
    producer = make_producer(settings, "test")
    events = [ack("d-note", actor=f"a{i}") for i in range(4)]
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events[:2]])
    consumer = make_consumer(settings, "g-note", [DEMAND_EVENTS])
    assert not consumer.assigned(), "nothing owned before the first poll"
    records = poll_until(consumer, 2)
    assert len(records) == 2 and consumer.assigned()
    consumer.commit(records[:1], '{"failed_in_a_row": 1}')
    other = make_consumer(settings, "g-note", [DEMAND_EVENTS])
    assert other.notes() == ['{"failed_in_a_row": 1}']
    other.close()

    consumer.pause()
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events[2:]])
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        assert consumer.poll(0.2) == []
    assert consumer.assigned(), "a paused consumer keeps its partitions (or lease)"
    consumer.close()

    resumed = make_consumer(settings, "g-note", [DEMAND_EVENTS])  # from the committed offset: events 1, 2, 3
    assert [r.offset for r in poll_until(resumed, 3)] == [records[1].offset, records[1].offset + 1,
                                                          records[1].offset + 2]
    resumed.close()
    producer.close()


def test_the_lag_reader_reads_a_group_from_the_bus_side(bus):
    settings, engine, sessions = bus
    producer = make_producer(settings, "test")
    lag = make_lag_reader(settings, "g-lag", [DEMAND_EVENTS])
    assert lag.lag() == {DEMAND_EVENTS: 0}
    events = [ack(f"d{i}") for i in range(5)]
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events])
    assert lag.lag() == {DEMAND_EVENTS: 5}, "a group that never committed lags by the whole topic"
    consumer = make_consumer(settings, "g-lag", [DEMAND_EVENTS])
    consumer.commit(poll_until(consumer, 5))
    assert lag.lag() == {DEMAND_EVENTS: 0}
    consumer.close()  # the group's consumer is gone: the lag reader still counts what arrives
    producer.send_batch([OutgoingMessage(DEMAND_EVENTS, e.get_subject(), to_message(e).headers,
                                         to_message(e).value) for e in events[:3]])
    assert lag.lag() == {DEMAND_EVENTS: 3}
    lag.close()
    producer.close()
