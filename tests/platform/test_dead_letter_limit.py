"""A handler that fails on everything halts its consumer instead of dead-lettering the whole stream.

Both backends, a real worker (its threads, its metrics host) and the real broker or event log: after
DEAD_LETTER_LIMIT - 1 failed events in a row the next failing one is neither dead-lettered nor committed, the
consumer stays halted there (the process up, /readyz 503, the halted gauge 1), a restart halts again at the
same event at once, and a fixed handler resumes there. A handled event between failures resets the count.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select

from shared.config import ConfigError, Settings
from shared.contracts.events import DEMAND_EVENTS, dlq_topic
from shared.db import make_engine, session_factory, unit_of_work
from shared.messaging.backends import make_consumer, make_lag_reader, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.consumer import DeadLetterPolicy, EventProcessor, RetryPolicy
from tests.platform.test_bus import ack, applied, metadata
from tests.platform.test_worker_liveness import (
    ACK,
    message,
    publish,
    readyz,
    running,
    sample,
    wait_for,
    with_test_tables,
)

pytestmark = pytest.mark.both_backends

LIMIT = 3
DLQ = dlq_topic(DEMAND_EVENTS)
HALTED = {"service": "intake", "group": "intake-service"}
LAG = {**HALTED, "topic": DEMAND_EVENTS}


@pytest.fixture
def settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Each backend in turn, with a dead-letter limit of 3."""
    monkeypatch.setenv("DEAD_LETTER_LIMIT", str(LIMIT))
    return with_test_tables(env, monkeypatch)


class Handler:
    """Applies acknowledgements; while ``broken`` it fails on every actor whose name starts with "bad"."""

    def __init__(self) -> None:
        self.broken = True
        self.calls: list[str] = []

    def __call__(self, session: Any, event: Any, data: dict[str, Any]) -> None:
        self.calls.append(data["actor_id"])
        if self.broken and data["actor_id"].startswith("bad"):
            raise ValueError(f"cannot handle {data['actor_id']}")
        session.execute(insert(applied).values(event_id=event.get_id(), demand_id=data["demand_id"],
                                               type=event.get_type()))


def junk(key: str) -> OutgoingMessage:
    """An undecodable record, keyed like the test's events so that it sits in their partition, in order."""
    return OutgoingMessage(DEMAND_EVENTS, key, {"ce_type": b"nonsense"}, b"not json")


def dead_letters(settings: Settings) -> list[str]:
    """The dead-lettered events' ids ("junk" for the undecodable one), in order."""
    total = make_lag_reader(settings, f"nobody-{uuid.uuid4().hex[:6]}", [DLQ])
    want = total.lag()[DLQ]  # a group that never read the topic lags by all of it
    total.close()
    reader = make_consumer(settings, f"dlq-reader-{uuid.uuid4().hex[:6]}", [DLQ])
    records: list[Any] = []
    deadline = time.monotonic() + 30
    while len(records) < want and time.monotonic() < deadline:
        records += reader.poll(0.2)
    reader.close()
    return [r.headers["ce_id"].decode() if "ce_id" in r.headers else "junk" for r in records]


def applied_ids(settings: Settings) -> set[str]:
    engine = make_engine(settings.database_url("intake"))
    with unit_of_work(session_factory(engine, metadata)) as s:
        found = set(s.execute(select(applied.c.event_id)).scalars())
    engine.dispose()
    return found


def halted(url: str) -> dict[str, Any]:
    status, body = readyz(url)
    return body if status == 503 and "halted" in body else {}


def test_the_nth_failure_in_a_row_halts_the_consumer_and_a_restart_halts_at_the_same_event(settings):
    handler = Handler()
    events = [ack("d-1", actor=f"bad-{i}") for i in range(5)]  # one key: one partition, in this order
    publish(settings, [message(events[0]), junk("d-1"), *[message(e) for e in events[2:]]])

    with running(settings, {ACK: handler}) as run:
        body = wait_for(lambda: halted(run.url), 30, "the consumer to halt")
        # the 3rd failure in a row (bad-0, the undecodable one, bad-2) halts AT bad-2
        assert body["not_ready"] == ["consumer halted"], "every loop is fine: only the halt is wrong"
        stop = body["halted"]
        assert stop["topic"] == DEMAND_EVENTS and "cannot handle bad-2" in stop["reason"]
        assert sample(run.url, "yangpu_consumer_halted", **HALTED) == 1
        assert dead_letters(settings) == [events[0].get_id(), "junk"]
        # nothing at or past bad-2 is committed: the bus still counts bad-2, bad-3 and bad-4 as to do
        assert wait_for(lambda: sample(run.url, "yangpu_consumer_lag_messages", **LAG) == 3, 10, "lag 3")
        assert "bad-3" not in handler.calls
        time.sleep(1)  # halted means halted: nothing more is attempted
        assert set(handler.calls) == {"bad-0", "bad-2"}
        assert halted(run.url)["halted"] == stop

    handler.calls.clear()
    with running(settings, {ACK: handler}) as run:  # a restart, handler still broken
        body = wait_for(lambda: halted(run.url), 30, "the restarted consumer to halt")
        assert body["halted"] == stop, "halted again at the same event"
        assert set(handler.calls) == {"bad-2"}, "at once: no event before or after it was tried"
        assert dead_letters(settings) == [events[0].get_id(), "junk"], "and it was not dead-lettered"
        assert sample(run.url, "yangpu_consumer_halted", **HALTED) == 1

    handler.broken = False
    handler.calls.clear()
    with running(settings, {ACK: handler}) as run:  # the fix deployed
        wait_for(lambda: applied_ids(settings) == {e.get_id() for e in events[2:]}, 30, "the rest handled")
        assert handler.calls[0] == "bad-2", "it resumed at the event it halted on"
        wait_for(lambda: readyz(run.url)[0] == 200, 10, "the worker to be ready")
        assert sample(run.url, "yangpu_consumer_halted", **HALTED) == 0
        assert wait_for(lambda: sample(run.url, "yangpu_consumer_lag_messages", **LAG) == 0, 10, "no lag")
    assert dead_letters(settings) == [events[0].get_id(), "junk"]


def test_a_handled_event_resets_the_count_and_the_count_survives_a_restart(settings):
    handler = Handler()
    events = [ack("d-2", actor=a) for a in ("bad-a", "good-1", "bad-b", "good-2", "bad-c")]
    publish(settings, [message(events[0]), junk("d-2"), message(events[1]), message(events[2]), junk("d-2"),
                       message(events[3]), message(events[4]), junk("d-2")])
    engine = make_engine(settings.database_url("intake"))
    sessions = session_factory(engine, metadata)
    producer = make_producer(settings, "dlq")

    def processor() -> EventProcessor:
        return EventProcessor("test", "g-reset", make_consumer(settings, "g-reset", [DEMAND_EVENTS]), producer,
                              sessions, {ACK: handler}, RetryPolicy(max_attempts=1), DeadLetterPolicy(LIMIT))

    first = processor()
    taken = 0
    deadline = time.monotonic() + 30
    while taken < 8 and time.monotonic() < deadline:
        taken += first.run_once(0.2)
    first.consumer.close()
    # two failures, a success, two failures, a success, two failures: never three in a row
    assert taken == 8 and first.halted is None
    assert dead_letters(settings) == [events[0].get_id(), "junk", events[2].get_id(), "junk", events[4].get_id(),
                                      "junk"]
    assert applied_ids(settings) == {events[1].get_id(), events[3].get_id()}

    # the count (2) was committed with the offsets: after a restart the next failure is the third in a row
    bad_d = ack("d-2", actor="bad-d")
    publish(settings, [message(bad_d)])
    second = processor()
    deadline = time.monotonic() + 30
    while second.halted is None and time.monotonic() < deadline:
        second.run_once(0.2)
    second.consumer.close()
    assert second.halted is not None and "bad-d" in second.halted.reason
    assert len(dead_letters(settings)) == 6
    producer.close()
    engine.dispose()


def test_the_limit_and_attempts_are_checked():
    with pytest.raises(ValueError):
        DeadLetterPolicy(limit=0)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    assert Settings.from_env({}).dead_letter_limit == 5
    with pytest.raises(ConfigError, match="DEAD_LETTER_LIMIT"):
        Settings.from_env({"DEAD_LETTER_LIMIT": "0"})
