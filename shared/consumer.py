"""The consumer loop as small steps: decode, validate, deduplicate and handle in one transaction, commit.

Offsets are committed only after every record of a batch was handled (or dead-lettered), so a crash
re-delivers the batch; ``processed_events`` makes the redelivery change nothing. A record that is not a
valid event, or whose handler keeps failing, goes to ``<topic>.dlq`` with the reason, and the loop moves on.
A database that does not answer is not the record's fault: that error propagates and the worker
re-reads from the last committed offset once the database is back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import logs
from shared.bus import Consumer, OutgoingMessage, Producer, Record
from shared.db import unit_of_work
from shared.events import CATALOGUE, CloudEvent, EventValidationError, dlq_topic, from_message, load_data
from shared.metrics import DEAD_LETTERS, EVENT_AGE_SECONDS, EVENTS_CONSUMED, HANDLER_SECONDS
from shared.outbox import mark_processed

log = logging.getLogger(__name__)

Handler = Callable[[Session, CloudEvent, dict[str, Any]], None]


def is_conflict(exc: OperationalError) -> bool:
    """A deadlock or serialization failure: the transaction lost a race and may simply run again.

    A batch holds the locks of its earlier events while it takes those of later ones, so two workers'
    batches can deadlock where single events (which lock in a fixed order) cannot.
    """
    return str(getattr(exc.orig, "sqlstate", None) or "").startswith("40")  # SQLSTATE class 40: rollback


@dataclass
class _Work:
    """A decoded record on its way through the steps."""

    record: Record
    event: CloudEvent
    data: dict[str, Any]
    handler: Handler
    duplicate: bool = False


class EventProcessor:
    """Feeds a service's handlers from one consumer group."""

    def __init__(
        self,
        service: str,
        group: str,
        consumer: Consumer,
        dead_letters: Producer,
        sessions: sessionmaker[Session],
        handlers: dict[str, Handler],
        max_attempts: int = 3,
    ) -> None:
        self.service = service
        self.group = group
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.sessions = sessions
        self.handlers = handlers
        self.max_attempts = max_attempts

    def run_once(self, timeout_s: float = 0.01) -> int:
        """Handle one polled batch and commit it; returns the number of records taken.

        The batch is handled in ONE transaction: one commit (one WAL flush) and no extra round trips
        however many events it holds. If any handler fails, that transaction rolls back whole and the
        batch is handled again one event per transaction, in order, where failures are retried and
        finally dead-lettered one by one.
        """
        records = self.consumer.poll(timeout_s)
        if not records:
            return 0
        todo = [w for w in (self._decode(r) for r in records) if w is not None]
        if todo:
            started = time.perf_counter()
            try:
                with unit_of_work(self.sessions) as session:
                    for work in todo:
                        self._apply(session, work)
            except OperationalError as exc:
                if not is_conflict(exc):
                    raise  # the database is down: not these events' fault, re-read after it recovers
                log.info("batch of %d lost a lock conflict; handling them one by one", len(todo))
                for work in todo:
                    work.duplicate = False
                    self._handle_with_retries(work)
            except Exception as exc:  # noqa: BLE001 - a handler bug or a constraint: find which, alone
                log.warning("a handler failed in a batch of %d; handling them one by one: %s", len(todo), exc)
                for work in todo:
                    work.duplicate = False
                    self._handle_with_retries(work)
            else:
                self._observe(todo, time.perf_counter() - started)
        self.consumer.commit(records)
        return len(records)

    def _decode(self, record: Record) -> _Work | None:
        """The record as an event for one of our handlers; None when ignored or dead-lettered."""
        type_ = record.headers.get("ce_type", b"").decode(errors="replace")
        if type_ in CATALOGUE and type_ not in self.handlers:  # not ours: skip without decoding
            EVENTS_CONSUMED.labels(self.service, type_, "ignored").inc()
            return None
        try:
            event = from_message(record.as_kafka_message())
            handler = self.handlers.get(event.get_type())
            if handler is None:
                raise EventValidationError(f"unknown event type {event.get_type()!r}")
            return _Work(record, event, load_data(event), handler)
        except EventValidationError as exc:
            self._dead_letter(record, f"invalid event: {exc}")
            return None

    def _apply(self, session: Session, work: _Work) -> None:
        """Dedupe and handle one event in the caller's transaction."""
        token = logs.event_id.set(work.event.get_id())
        try:
            if mark_processed(session, self.group, work.event.get_id()):
                work.handler(session, work.event, work.data)
            else:
                work.duplicate = True
        finally:
            logs.event_id.reset(token)

    def _observe(self, done: list[_Work], seconds: float) -> None:
        for work in done:
            outcome = "duplicate" if work.duplicate else "handled"
            EVENTS_CONSUMED.labels(self.service, work.event.get_type(), outcome).inc()
            if work.duplicate:
                continue
            HANDLER_SECONDS.labels(self.service).observe(seconds / len(done))
            created = work.event.get_time()
            if created is not None:
                EVENT_AGE_SECONDS.labels(self.service, work.event.get_type()).observe(
                    max(0.0, (datetime.now(UTC) - created).total_seconds()))

    def _handle_with_retries(self, work: _Work) -> None:
        """One event in its own transaction; a failing handler is tried a few times, then dead-lettered.

        A lock conflict is not the event's fault and does not count as a failure: it simply runs again.
        """
        failures = 0
        conflicts = 0
        while True:
            started = time.perf_counter()
            try:
                with unit_of_work(self.sessions) as session:
                    self._apply(session, work)
            except OperationalError as exc:
                if not is_conflict(exc):
                    raise
                conflicts += 1
                log.info("lock conflict %d, running the event again", conflicts)
                time.sleep(min(0.5, 0.01 * conflicts))
                continue
            except Exception as exc:  # noqa: BLE001 - a handler bug or a constraint
                failures += 1
                log.warning("handler failed (attempt %d/%d): %s", failures, self.max_attempts, exc)
                if failures == self.max_attempts:
                    self._dead_letter(work.record, f"handler failed {failures} times: {exc}")
                    return
                time.sleep(0.05 * failures)
                continue
            self._observe([work], time.perf_counter() - started)
            return

    def _dead_letter(self, record: Record, reason: str) -> None:
        log.error("dead-lettered a record from %s: %s", record.topic, reason)
        headers = dict(record.headers)
        headers.update({
            "dlq_reason": reason[:1000].encode(),
            "dlq_source_topic": record.topic.encode(),
            "dlq_source_offset": str(record.offset).encode(),
            "dlq_consumer_group": self.group.encode(),
        })
        self.dead_letters.send_batch([OutgoingMessage(dlq_topic(record.topic), record.key, headers, record.value)])
        DEAD_LETTERS.labels(self.service, record.topic).inc()
        type_ = headers.get("ce_type", b"").decode(errors="replace")
        EVENTS_CONSUMED.labels(self.service, type_ if type_ in CATALOGUE else "unknown", "dead_lettered").inc()
