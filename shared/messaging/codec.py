"""How an event travels: CloudEvents binary content mode (``ce_*`` headers, JSON value), keyed by demand id.

The one place an event becomes bytes and back, and where a message is stored in a table: the outbox and the
embedded log keep the same columns (:func:`message_columns`), headers as a JSON object of strings.
"""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy import Column, LargeBinary, String, Text

from shared.contracts.events import CloudEvent, EventValidationError
from shared.instants import instant_text
from shared.messaging.bus import OutgoingMessage

_FORMAT = JSONFormat()


def to_message(event: CloudEvent) -> KafkaMessage:
    """Binary content mode: attributes in ``ce_*`` headers, data as the JSON value; ``ce_time`` in UTC with
    ``Z`` like every instant the suite emits (the SDK would keep whatever offset the attribute carries)."""
    message = to_binary(event, _FORMAT)
    sent_at = event.get_time()
    if sent_at is None:
        return message
    return KafkaMessage(headers={**message.headers, "ce_time": instant_text(sent_at).encode()},
                        key=message.key, value=message.value)


def from_message(message: KafkaMessage) -> CloudEvent:
    try:
        return from_binary(message, _FORMAT)
    except Exception as exc:  # the SDK raises several types for a malformed message
        raise EventValidationError(f"not a CloudEvent: {exc}") from exc


def message_columns() -> list[Column[Any]]:
    """The key, headers and value columns of a table of messages (new objects: a Column joins one table)."""
    return [Column("message_key", String(100)), Column("headers", Text, nullable=False),
            Column("value", LargeBinary, nullable=False)]


def message_row(message: KafkaMessage | OutgoingMessage) -> dict[str, Any]:
    """``message`` as the values of :func:`message_columns`."""
    return {"message_key": message.key, "headers": headers_to_text(message.headers), "value": message.value}


def headers_to_text(headers: dict[str, bytes]) -> str:
    return json.dumps({k: v.decode() for k, v in headers.items()})


def headers_from_text(text: str) -> dict[str, bytes]:
    return {k: v.encode() for k, v in json.loads(text).items()}
