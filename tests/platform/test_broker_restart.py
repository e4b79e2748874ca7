"""Nothing is lost when the Kafka broker goes down and comes back (real broker, restarted by its script)."""

from __future__ import annotations

import subprocess
import time

import pytest
from sqlalchemy import func, select

from shared.config import PROJECT_ROOT
from shared.contracts.events import DEMAND_EVENTS
from shared.db import unit_of_work
from shared.messaging.backends import make_consumer, make_producer
from shared.messaging.consumer import EventProcessor
from shared.messaging.outbox import OutboxRelay, emit
from tests.platform.test_bus import ack, applied, metadata, outbox

pytestmark = pytest.mark.production
KAFKA_SH = str(PROJECT_ROOT / "deploy" / "kafka" / "kafka.sh")


@pytest.fixture
def bus_on_kafka(production, open_bus):
    return open_bus(production, metadata)


def test_outbox_keeps_events_while_the_broker_is_down_and_delivers_them_after(bus_on_kafka):
    settings, engine, sessions = bus_on_kafka
    producer = make_producer(settings, "test")
    relay = OutboxRelay("test", engine, metadata, producer)
    with unit_of_work(sessions) as s:
        for i in range(20):
            emit(s, ack(f"before-{i}"))
    assert relay.run_once() == 20

    subprocess.run([KAFKA_SH, "stop"], check=True)
    try:
        with unit_of_work(sessions) as s:
            for i in range(20):
                emit(s, ack(f"during-{i}"))
        with pytest.raises(Exception):  # noqa: B017 - any send failure: what matters is the rows stay
            relay.run_once()
        with unit_of_work(sessions) as s:
            assert s.execute(select(func.count()).select_from(outbox)).scalar_one() == 20
    finally:
        subprocess.run([KAFKA_SH, "start"], check=True)

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
