"""The one mapping from a refusal (:class:`shared.refusals.Refused`) to an HTTP answer.

Every JSON API answers a refusal with the suite's error shape ``{"code", "message", "errors"}`` and the
status its kind maps to here; pages use :func:`status_of` to show the same refusal as a page.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Flask, Response, jsonify

from shared.refusals import Kind, Refused

STATUS: dict[Kind, int] = {"forbidden": 403, "not_found": 404, "conflict": 409, "invalid": 422,
                           "unsupported": 415, "unavailable": 503}
CODE: dict[Kind, str] = {"forbidden": "forbidden", "not_found": "not_found", "conflict": "conflict",
                         "invalid": "validation_failed", "unsupported": "unsupported_media_type",
                         "unavailable": "unavailable"}


class ErrorSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Machine-readable error code, e.g. validation_failed"})
    message = ma.fields.String(metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Problems by field path (e.g. enterprise.uscc)"},
    )


def status_of(refusal: Refused) -> int:
    return STATUS[refusal.kind]


def refusal_response(refusal: Refused) -> Response:
    response = jsonify({"code": CODE[refusal.kind], "message": refusal.message, "errors": refusal.errors})
    response.status_code = status_of(refusal)
    return response


def install(app: Flask) -> None:
    """Answer every refusal a view lets through in the suite's error shape."""
    app.register_error_handler(Refused, refusal_response)
