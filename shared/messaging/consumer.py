"""The consumer loop as small steps: decode, validate, deduplicate and handle in one transaction, commit.

Offsets are committed only after every record of a batch was handled (or dead-lettered), so a crash
re-delivers the batch; ``processed_events`` makes the redelivery change nothing. A record that is not a
valid event, or whose handler keeps failing, goes to ``<topic>.dlq`` with the reason, and the loop moves on
— up to a limit: when event after event fails, the fault is in the consumer (a bad deploy), not in the
events, and dead-lettering on would empty the whole stream into the DLQ. So the N-th failed event in a row
HALTS the consumer at that event (see :class:`DeadLetterPolicy`). Commit, retry and dead-letter policies
are values given to :class:`EventProcessor`. A database that does not answer is not the
record's fault: that error propagates and the worker re-reads from the last committed offset once the
database is back.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import logs
from shared.contracts.events import CATALOGUE, CloudEvent, EventValidationError, dlq_topic, load_data
from shared.db import unit_of_work
from shared.messaging.bus import Consumer, OutgoingMessage, Producer, Record
from shared.messaging.codec import from_message
from shared.messaging.inbox import mark_processed
from shared.metrics import CONSUMER_HALTED, DEAD_LETTERS, EVENT_AGE_SECONDS, EVENTS_CONSUMED, HANDLER_SECONDS

log = logging.getLogger(__name__)

# A handler may return what it published (the commands do); the consumer does not look.
Handler = Callable[[Session, CloudEvent, dict[str, Any]], object]


def is_conflict(exc: OperationalError) -> bool:
    """A deadlock or serialization failure: the transaction lost a race and may simply run again.

    A batch holds the locks of its earlier events while it takes those of later ones, so two workers'
    batches can deadlock where single events (which lock in a fixed order) cannot.
    """
    return str(getattr(exc.orig, "sqlstate", None) or "").startswith("40")  # SQLSTATE class 40: rollback


@dataclass(frozen=True)
class CommitPolicy:
    """How a polled batch becomes durable. Offsets are always committed after the batch's database work.

    ``batch_transaction``: the whole batch in ONE transaction (one WAL flush, no extra round trips) when
    nothing in it fails; off, or after any failure, event by event.
    """

    batch_transaction: bool = True


@dataclass(frozen=True)
class RetryPolicy:
    """A handler that raises is tried ``max_attempts`` times, ``backoff_s`` x attempt apart; then the event
    has failed. A lock conflict is not a failure: it always runs again."""

    max_attempts: int = 3
    backoff_s: float = 0.05

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"a retry policy needs at least one attempt: {self}")


@dataclass(frozen=True)
class DeadLetterPolicy:
    """A failed event (an undecodable one too) goes to ``<topic>.dlq``, unless it is the ``limit``-th failed
    event in a row: then the consumer halts at it. A handled event resets the count."""

    limit: int = 5

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a dead-letter limit must be at least 1: {self}")


@dataclass(frozen=True)
class Halt:
    """Where a halted consumer stopped, and why."""

    topic: str
    partition: int
    offset: int
    reason: str


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
        retry: RetryPolicy = RetryPolicy(),
        dead_letter: DeadLetterPolicy = DeadLetterPolicy(),
        commit: CommitPolicy = CommitPolicy(),
    ) -> None:
        self.service = service
        self.group = group
        self.consumer = consumer
        self.dead_letters = dead_letters
        self.sessions = sessions
        self.handlers = handlers
        self.retry, self.dead_letter, self.commit = retry, dead_letter, commit
        self.halted: Halt | None = None
        self._failed_in_a_row: int | None = None  # read from the bus before the first batch
        CONSUMER_HALTED.labels(service, group).set(0)

    def run_once(self, timeout_s: float = 0.01) -> int:
        """Handle one polled batch and commit it; returns the number of records taken.

        The batch is handled in ONE transaction: one commit (one WAL flush) and no extra round trips
        however many events it holds. If any handler fails (or the batch holds an undecodable record), the
        batch is handled one event per transaction, in order, where failures are retried and finally
        dead-lettered one by one — or the consumer halts (:class:`DeadLetterPolicy`). A halted processor
        takes nothing more: it only polls its paused consumer, which keeps its partitions or lease.
        """
        if self.halted is not None:
            self.consumer.poll(timeout_s)
            return 0
        if self._failed_in_a_row is None:
            self._failed_in_a_row = self._restore_count()
        records = self.consumer.poll(timeout_s)
        if not records:
            return 0
        decoded = [self._decode(r) for r in records]
        todo = [d for d in decoded if isinstance(d, _Work)]
        invalid = any(isinstance(d, str) for d in decoded)
        if self.commit.batch_transaction and todo and not invalid:  # one transaction for the batch
            started = time.perf_counter()
            try:
                with unit_of_work(self.sessions) as session:
                    fresh = mark_processed(session, self.group, [work.event.get_id() for work in todo])
                    for work in todo:
                        self._apply(session, work, fresh)
            except OperationalError as exc:
                if not is_conflict(exc):
                    raise  # the database is down: not these events' fault, re-read after it recovers
                log.info("batch of %d lost a lock conflict; handling them one by one", len(todo))
            except Exception as exc:  # noqa: BLE001 - a handler bug or a constraint: find which, alone
                log.warning("a handler failed in a batch of %d; handling them one by one: %s", len(todo), exc)
            else:
                self._observe(todo, time.perf_counter() - started)
                self._failed_in_a_row = 0
                self.consumer.commit(records, self._note())
                return len(records)
        for i, (record, item) in enumerate(zip(records, decoded, strict=True)):
            if item is None:
                continue
            if isinstance(item, _Work):
                item.duplicate = False
                failure = self._handle_with_retries(item)
            else:
                failure = item
            if failure is None:
                self._failed_in_a_row = 0
            elif self._failed_in_a_row + 1 >= self.dead_letter.limit:
                self._halt(record, failure, done=records[:i])
                return i
            else:
                self._failed_in_a_row += 1
                self._dead_letter(record, failure)
        self.consumer.commit(records, self._note())
        return len(records)

    def _note(self) -> str:
        """What is committed with the offsets: the count of failed events in a row, and when.

        The count lives with the committed offsets (Kafka's offset metadata, the event log's ``note``
        column) because it describes exactly the events before them: it is written in the same atomic
        commit, so it can never disagree with where a restarted consumer resumes, and needs no store of
        its own. Partitions are committed separately, so the newest note (by ``at``) is the current count.
        """
        return json.dumps({"failed_in_a_row": self._failed_in_a_row, "at": time.time()})

    def _restore_count(self) -> int:
        """The count of failed events in a row as of the last commit, so that a restart at a halted event
        halts again at once rather than dead-lettering it as the first failure of a fresh count."""
        newest: dict[str, Any] = {"failed_in_a_row": 0, "at": float("-inf")}
        for note in self.consumer.notes():
            try:
                found = json.loads(note)
                if found["at"] > newest["at"]:
                    newest = found
            except (ValueError, TypeError, KeyError):
                log.warning("ignoring an offset note that is not ours: %r", note[:100])
        return int(newest["failed_in_a_row"])

    def _halt(self, record: Record, reason: str, done: list[Record]) -> None:
        """Stop at ``record``: commit what came before it (so a restart resumes AT it) and nothing after."""
        self.consumer.commit(done, self._note())
        self.consumer.pause()
        self.halted = Halt(record.topic, record.partition, record.offset, reason)
        CONSUMER_HALTED.labels(self.service, self.group).set(1)
        log.critical("consumer group %s HALTED at %s partition %d offset %d: %d events in a row failed; "
                     "this one was not dead-lettered. Fix the cause and restart the worker: %s", self.group,
                     record.topic, record.partition, record.offset, self.dead_letter.limit, reason)

    def _decode(self, record: Record) -> _Work | str | None:
        """The record as an event for one of our handlers; None when not ours, the reason when invalid."""
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
            return f"invalid event: {exc}"

    def _apply(self, session: Session, work: _Work, fresh: set[str]) -> None:
        """Handle one event in the caller's transaction if it is in ``fresh`` (recorded as processed by it
        just now), once: the same event twice in one batch is handled the first time only."""
        event_id = work.event.get_id()
        if event_id not in fresh:
            work.duplicate = True
            return
        fresh.discard(event_id)
        token = logs.event_id.set(event_id)
        try:
            work.handler(session, work.event, work.data)
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

    def _handle_with_retries(self, work: _Work) -> str | None:
        """One event in its own transaction; a failing handler is tried a few times. Returns why it failed,
        or None once handled.

        A lock conflict is not the event's fault and does not count as a failure: it simply runs again.
        """
        failures = 0
        conflicts = 0
        while True:
            started = time.perf_counter()
            try:
                with unit_of_work(self.sessions) as session:
                    self._apply(session, work, mark_processed(session, self.group, [work.event.get_id()]))
            except OperationalError as exc:
                if not is_conflict(exc):
                    raise
                conflicts += 1
                log.info("lock conflict %d, running the event again", conflicts)
                time.sleep(min(0.5, 0.01 * conflicts))
                continue
            except Exception as exc:  # noqa: BLE001 - a handler bug or a constraint
                failures += 1
                log.warning("handler failed (attempt %d/%d): %s", failures, self.retry.max_attempts, exc)
                if failures == self.retry.max_attempts:
                    return f"handler failed {failures} times: {exc}"
                time.sleep(self.retry.backoff_s * failures)
                continue
            self._observe([work], time.perf_counter() - started)
            return None

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
