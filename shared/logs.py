"""JSON logs carrying the request id and event id of whatever is being handled.

Never log a phone number, a name or a token: log ids and codes.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from datetime import UTC, date, datetime, time

from pythonjsonlogger.json import JsonEncoder, JsonFormatter

from shared.instants import instant_text

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
event_id: ContextVar[str | None] = ContextVar("event_id", default=None)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        record.request_id = request_id.get()
        record.event_id = event_id.get()
        return True


class _Encoder(JsonEncoder):
    """An aware datetime logged as an extra is an instant like any the suite emits (UTC, ``Z``)."""

    def format_datetime_obj(self, o: time | date | datetime) -> str:
        if isinstance(o, datetime) and o.utcoffset() is not None:
            return instant_text(o)
        return super().format_datetime_obj(o)


class _Formatter(JsonFormatter):
    """The record's ``time`` in UTC with ``Z`` (the standard one is local time without an offset)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return instant_text(datetime.fromtimestamp(record.created, UTC))


def configure(service: str, level: str = "INFO") -> None:
    """Route every log record of the process to stderr as one JSON object per line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(request_id)s %(event_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}, json_encoder=_Encoder,
    ))
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("kafka").setLevel(logging.WARNING)
