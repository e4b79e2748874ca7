"""The field types every input schema of the suite is built from: the one place a value's shape is refused.

A request body, a query string, a form and a header all reach the service layer through these types, so
one rule holds for each kind of value everywhere: free text (:class:`Text`) never carries NUL, controls,
bidi overrides or lone surrogates and is never invisible only; numbers (:func:`count`) and moments
(:func:`moment`, :func:`day`, :func:`month`) are bounded, so no value overflows a database column or the
calendar's arithmetic; identifiers typed by people (:class:`Uscc`, :class:`Phone`) are checked and
normalised. ``tests/platform/test_inputs.py`` checks that every input schema uses them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from shared.instants import Instant
from shared.validation import (
    EARLIEST,
    LATEST,
    moment_problem,
    normalize_phone,
    normalize_uscc,
    phone_problem,
    text_problem,
    uscc_problem,
)

__all__ = ["MONTH", "DemandFactsOut", "Instant", "Phone", "Text", "Token", "Uscc", "count", "day", "month", "moment"]

# Year-month of a monthly report (the calendar's range: 1970-2099).
MONTH = r"^(19[7-9]\d|20\d\d)-(0[1-9]|1[0-2])$"


class Text(fields.String):
    """Free text typed by a person: stripped, then refused if :func:`shared.validation.text_problem` objects.

    Give it a ``validate.Length`` (every Text has a maximum; the layout test checks it).
    """

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        problem = text_problem(text)
        if problem:
            raise ValidationError(problem)
        return text


class Token(fields.String):
    """A machine token a client chooses (an Idempotency-Key, an id): 1-``max_length`` printable ASCII."""

    def __init__(self, max_length: int = 200, **kwargs: Any) -> None:
        super().__init__(validate=[validate.Length(1, max_length),
                                   validate.Regexp(r"^[\x21-\x7e]+$", error="printable ASCII without spaces only")],
                         **kwargs)


class Uscc(fields.String):
    """A unified social credit code (统一社会信用代码), checksum-verified per GB 32100-2015, upper-cased."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        problem = uscc_problem(raw) if len(raw) <= 40 else "a unified social credit code has 18 characters"
        if problem:
            raise ValidationError(problem)
        return normalize_uscc(raw)


class Phone(fields.String):
    """A mainland mobile or landline number, stored in its canonical form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        raw = super()._deserialize(value, attr, data, **kwargs)
        problem = "a phone number has at most 40 characters" if len(raw) > 40 else _phone_problem(raw)
        if problem:
            raise ValidationError(problem)
        return normalize_phone(raw)


def _phone_problem(raw: str) -> str | None:
    try:
        return phone_problem(raw)
    except IndexError:  # a lone trunk prefix ("0", "+86 0")
        return "not a mainland mobile (1[3-9] + 9 digits) or landline (0 + area code) number"


def _in_range(value: datetime | date) -> None:
    problem = moment_problem(value)
    if problem:
        raise ValidationError(problem)


def moment(description: str, **kwargs: Any) -> Instant:
    """An ISO-8601 time with any offset, between :data:`EARLIEST` and :data:`LATEST`, loaded in UTC."""
    return Instant(validate=_in_range, metadata={"description": description}, **kwargs)


def day(description: str, **kwargs: Any) -> fields.Date:
    """An ISO-8601 date between :data:`EARLIEST` and :data:`LATEST`."""
    return fields.Date(validate=_in_range, metadata={"description": description}, **kwargs)


def month(description: str, **kwargs: Any) -> fields.String:
    """A year and month, ``YYYY-MM``, in the calendar's range."""
    return fields.String(validate=validate.Regexp(MONTH, error=f"must be YYYY-MM between {EARLIEST.year} and "
                                                               f"{LATEST.year - 1}"),
                         metadata={"description": description}, **kwargs)


class DemandFactsOut(Schema):
    """The facts of a demand that every service's answers repeat (:class:`shared.db.DemandFacts`), described once."""

    demand_id = fields.String(metadata={"description": "The demand's id (UUID), as intake gave it"})
    street = fields.String(metadata={"description": "Street (街道) code"})
    channel = fields.String(metadata={"description": "How the demand was raised"})
    category = fields.String(metadata={"description": "Category code"})


def count(low: int, high: int, **kwargs: Any) -> fields.Integer:
    """A whole number between ``low`` and ``high``: every integer input has both bounds."""
    return fields.Integer(validate=validate.Range(low, high), **kwargs)
