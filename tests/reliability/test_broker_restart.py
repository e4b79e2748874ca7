"""Nothing is lost when the Kafka broker goes down and comes back (real broker, restarted by its script)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from devstack import environments
from shared.contracts.events import DEMAND_EVENTS
from shared.db import unit_of_work
from shared.messaging.backends import make_consumer, make_producer
from shared.messaging.consumer import EventProcessor
from shared.messaging.outbox import OutboxRelay, emit
from tests.platform.test_bus import ack, applied, metadata, outbox

pytestmark = pytest.mark.production


@pytest.fixture
def bus_on_kafka(fault_servers, open_bus, tmp_path):
    """The bus on the fault tests' own broker: this test stops it."""
    env = environments.production(tmp_path, "t", fault_servers.pg_admin_url, fault_servers.kafka)
    try:
        yield (*open_bus(env, metadata), fault_servers)
    finally:
        environments.drop(env, fault_servers.pg_admin_url)


def test_outbox_keeps_events_while_the_broker_is_down_and_delivers_them_after(bus_on_kafka):
    settings, engine, sessions, servers = bus_on_kafka
    producer = make_producer(settings, "test")
    relay = OutboxRelay("test", engine, metadata, producer)
    with unit_of_work(sessions) as s:
        for i in range(20):
            emit(s, ack(f"before-{i}"))
    assert relay.run_once() == 20

    servers.kafka_sh("stop")
    try:
        with unit_of_work(sessions) as s:
            for i in range(20):
                emit(s, ack(f"during-{i}"))
        with pytest.raises(Exception):  # noqa: B017 - any send failure: what matters is the rows stay
            relay.run_once()
        with unit_of_work(sessions) as s:
            assert s.execute(select(func.count()).select_from(outbox)).scalar_one() == 20
    finally:
        servers.kafka_sh("start")

    deadline = time.monotonic() + 60
    published = 0
    while published < 20 and time.monotonic() < deadline:
        try:
            published += relay.run_once()
        except Exception:  # noqa: BLE001 - the client reconnects; try again
            time.sleep(0.5)
    assert published == 20
    producer.close()

    def handler(session, event, data):
        from sqlalchemy import insert

        session.execute(insert(applied).values(event_id=event.get_id(), demand_id=data["demand_id"],
                                               type=event.get_type()))

    consumer = make_consumer(settings, "g-restart", [DEMAND_EVENTS])
    processor = EventProcessor("test", "g-restart", consumer, make_producer(settings, "dlq"), sessions,
                               {"yangpu.demand.acknowledged.v1": handler})
    deadline = time.monotonic() + 60
    taken = 0
    while taken < 40 and time.monotonic() < deadline:
        taken += processor.run_once(0.2)
    consumer.close()
    with unit_of_work(sessions) as s:
        ids = set(s.execute(select(applied.c.demand_id)).scalars())
    assert ids == {f"before-{i}" for i in range(20)} | {f"during-{i}" for i in range(20)}
