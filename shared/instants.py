"""The one way an instant leaves the suite: RFC 3339 in UTC with a ``Z`` suffix (``2027-02-05T01:00:00Z``).

Events (data and the CloudEvents ``time`` attribute), every JSON API field, CSV exports and the HTML
``<time datetime>`` attribute all write instants with :func:`instant_text`, so a consumer compares them as
UTC without looking at offsets; a fraction of a second is written (six digits) only when it is not zero.
Inputs keep accepting any offset and are converted to UTC on the way in (:class:`Instant`,
:func:`parse_instant`). People still read Asia/Shanghai wall-clock time on the pages: that is display.
Calendar days (report days, leave dates) are dates, ``YYYY-MM-DD``, not instants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields


def instant_text(value: datetime) -> str:
    """``value`` as RFC 3339 in UTC with ``Z``; a naive datetime is refused (its instant is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"an instant needs a UTC offset: {value.isoformat()} has none")
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def parse_instant(text: str) -> datetime:
    """An ISO-8601 / RFC 3339 time with any offset (``Z`` included), as an aware datetime in UTC."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"an instant needs a UTC offset: {text!r} has none")
    return value.astimezone(UTC)


class Instant(fields.AwareDateTime):
    """A marshmallow field for an instant: dumped by :func:`instant_text`, loaded with any offset into UTC
    (a time without an offset is refused, as by ``AwareDateTime``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        try:
            return instant_text(value)
        except ValueError as exc:  # a naive datetime reaching an answer is a bug: say which field
            raise ValueError(f"{attr}: {exc}") from exc

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except (OverflowError, ValueError) as exc:  # 0001-01-01T00:00+01:00 has no UTC year
            raise ValidationError("not a time the suite can hold") from exc
