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
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shared import logs
from shared.bus import Consumer, OutgoingMessage, Producer, Record
from shared.db import unit_of_work
from shared.events import CATALOGUE, CloudEvent, EventValidationError, dlq_topic, from_message, load_data
from shared.metrics import DEAD_LETTERS, EVENT_AGE_SECONDS, EVENTS_CONSUMED, HANDLER_SECONDS
from shared.outbox import mark_processed

log = logging.getLogger(__name__)

Handler = Callable[[Session, CloudEvent, dict[str, Any]], None]


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
        """Handle one polled batch and commit it; returns the number of records taken."""
        records = self.consumer.poll(timeout_s)
        for record in records:
            self._process(record)
        if records:
            self.consumer.commit(records)
        return len(records)

    def _process(self, record: Record) -> None:
        try:
            event = from_message(record.as_kafka_message())
            handler = self.handlers.get(event.get_type())
            if handler is None:
                EVENTS_CONSUMED.labels(self.service, event.get_type(), "ignored").inc()
                return
            data = load_data(event)
        except EventValidationError as exc:
            self._dead_letter(record, f"invalid event: {exc}")
            return
        token = logs.event_id.set(event.get_id())
        try:
            self._handle_with_retries(record, event, data, handler)
        finally:
            logs.event_id.reset(token)

    def _handle_with_retries(self, record: Record, event: CloudEvent, data: dict[str, Any],
                             handler: Handler) -> None:
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                with unit_of_work(self.sessions) as session:
                    if not mark_processed(session, self.group, event.get_id()):
                        EVENTS_CONSUMED.labels(self.service, event.get_type(), "duplicate").inc()
                        return
                    handler(session, event, data)
            except OperationalError:
                raise  # the database is down: not this event's fault, re-read after it recovers
            except (DBAPIError, Exception) as exc:  # noqa: B014 - a handler bug or a constraint
                log.warning("handler failed (attempt %d/%d): %s", attempt, self.max_attempts, exc)
                if attempt == self.max_attempts:
                    self._dead_letter(record, f"handler failed {attempt} times: {exc}")
                    return
                time.sleep(0.05 * attempt)
                continue
            HANDLER_SECONDS.labels(self.service).observe(time.perf_counter() - started)
            EVENTS_CONSUMED.labels(self.service, event.get_type(), "handled").inc()
            created = event.get_time()
            if created is not None:
                EVENT_AGE_SECONDS.labels(self.service, event.get_type()).observe(
                    max(0.0, (datetime.now(UTC) - created).total_seconds()))
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
