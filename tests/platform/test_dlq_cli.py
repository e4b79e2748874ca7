"""The dead-letter CLI on both backends: listed without personal data, shown in full, replayed exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert

from shared import dlq
from shared.config import PROJECT_ROOT
from shared.contracts.events import DEMAND_EVENTS, new_event
from shared.messaging.backends import make_consumer, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from shared.messaging.consumer import EventProcessor
from shared.messaging.outbox import add_bookkeeping_tables
from tests.platform.test_bus import count, drain

pytestmark = pytest.mark.both_backends

metadata = MetaData()
effects = Table("effects", metadata, Column("event_id", String(64), primary_key=True))
_, processed = add_bookkeeping_tables(metadata)
ACK = "yangpu.demand.acknowledged.v1"
CONTACT = "wang-13812345678"  # stands for the personal data an event's value may carry
GROUP = "g-dlq-cli"


@pytest.fixture
def bus(env, open_bus):
    settings, _, sessions = open_bus(env, metadata, "routing")
    return settings, sessions


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it: a process of its own with the environment's settings."""
    done = subprocess.run([sys.executable, "-m", "shared.dlq", *args], cwd=PROJECT_ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def run(capsys, *args: str) -> str:
    capsys.readouterr()
    assert dlq.main(list(args)) == 0
    return capsys.readouterr().out


def test_a_dead_letter_is_listed_shown_and_replayed_exactly_once(bus, capsys):
    settings, sessions = bus
    producer = make_producer(settings, "test")
    event = new_event(ACK, {"demand_id": "d-poison", "street": "daqiao", "actor_id": CONTACT, "at": datetime.now(UTC)},
                      source="/test")
    message = to_message(event)
    producer.send_batch([
        OutgoingMessage(DEMAND_EVENTS, "junk", {"ce_type": b"nonsense"}, b"not json"),
        OutgoingMessage(DEMAND_EVENTS, "d-poison", message.headers, message.value),
    ])
    broken = True

    def handler(session, event, data):
        if broken:
            raise ValueError("reference row missing")
        session.execute(insert(effects).values(event_id=event.get_id()))

    consumer = make_consumer(settings, GROUP, [DEMAND_EVENTS])
    processor = EventProcessor("test", GROUP, consumer, producer, sessions, {ACK: handler})
    try:
        assert drain(processor, 2) == 2
        assert count(sessions, effects) == 0 and count(sessions, processed) == 0

        listed = cli("list").stdout
        assert event.get_id() in listed and "reference row missing" in listed and "d-poison" in listed
        assert CONTACT not in listed, "list never prints an event's data"
        rows = json.loads(run(capsys, "list", "--json"))
        poison = next(r for r in rows if r["subject"] == "d-poison")
        junk = next(r for r in rows if r["reason"].startswith("invalid event"))
        assert poison["event_id"] == event.get_id() and poison["group"] == GROUP and not poison["replayed"]
        assert poison["dlq_topic"] == "demand.events.dlq" and poison["source_topic"] == DEMAND_EVENTS
        assert "failed 3 times" in poison["reason"]

        shown = run(capsys, "show", "demand.events.dlq", poison["position"])
        assert CONTACT in shown and f"ce_id: {event.get_id()}" in shown and "dlq_reason:" in shown

        out = run(capsys, "replay", "--all", "--dry-run")
        assert "would replay" in out and "not a CloudEvent" in out
        assert len(dlq.read_topic(settings, DEMAND_EVENTS)) == 2, "a dry run publishes nothing"
        assert not any(d.replayed for d in dlq.dead_letters(settings))

        broken = False  # the cause is fixed
        out = cli("replay", "--all").stdout
        assert "1 replayed, 1 skipped" in out
        assert drain(processor, 1) == 1
        assert count(sessions, effects) == 1
        replayed = [m for m in dlq.read_topic(settings, DEMAND_EVENTS) if dlq.REPLAYED_FROM in m.headers]
        assert len(replayed) == 1 and replayed[0].value == message.value and replayed[0].key == "d-poison"
        assert replayed[0].headers["ce_id"] == event.get_id().encode()
        assert not any(name.startswith("dlq_") and name != dlq.REPLAYED_FROM for name in replayed[0].headers)
        rows = {r["position"]: r for r in json.loads(run(capsys, "list", "--json"))}
        assert rows[poison["position"]]["replayed"] and not rows[junk["position"]]["replayed"]

        # replayed again by mistake: the consumer takes it and skips it by its event id
        assert "1 replayed" in run(capsys, "replay", "demand.events.dlq", poison["position"])
        assert drain(processor, 1) == 1
        assert count(sessions, effects) == 1 and count(sessions, processed) == 1
        assert "0 replayed" in run(capsys, "replay", "--all", "--group", GROUP), "--all skips replayed ones"
    finally:
        consumer.close()
        producer.close()


def test_show_and_replay_refuse_an_unknown_position(bus, capsys):
    assert dlq.main(["show", "demand.events.dlq", "0:999"]) == 2
    assert dlq.main(["replay", "sla.events.dlq", "7"]) == 2
    assert dlq.main(["replay", "--all", "demand.events.dlq"]) == 2
    assert "no dead letter at sla.events.dlq 7" in capsys.readouterr().err
