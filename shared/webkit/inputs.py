"""The request side of the input layer: how a body is read before any schema sees it.

Every JSON API blueprint is an :class:`ApiBlueprint`, whose parser reads a body only if it is within the
route's size limit (413), is JSON (415), is not empty where the endpoint needs fields (400), parses (400)
and nests at most :data:`MAX_DEPTH` levels (400) — all answered in the suite's error shape, never a 5xx.
The same depth-limited :func:`loads` is the app's JSON provider, so ``request.get_json`` obeys it too.
Values are then checked by the field types of :mod:`shared.fields`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

import marshmallow as ma
from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Blueprint, abort
from webargs import core
from webargs.flaskparser import FlaskParser

from shared.webkit.errors import ErrorSchema

F = TypeVar("F", bound=Callable[..., Any])

MAX_DEPTH = 400
BODY_LIMIT = 64 * 1024  # a demand's 5,000-character description in CJK is 15 KB
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The body is not JSON this suite reads; the message says why (Flask answers a ValueError with 400)."""


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise BadJson(f"number {text[:20]} is too large")
    return value


def _no_constant(name: str) -> None:
    raise BadJson(f"{name} is not JSON")


def _depth(text: str) -> int:
    deepest = depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if bracket.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def loads(data: str | bytes) -> Any:
    """Parse JSON with at most :data:`MAX_DEPTH` levels of nesting, finite numbers only; else BadJson."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    except UnicodeDecodeError:
        raise BadJson("the body is not UTF-8") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise BadJson(f"the JSON nests more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise BadJson(f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # an integer of thousands of digits, a number too large
        raise BadJson(str(exc) if isinstance(exc, BadJson) else "the body holds a number too large") from None


class JsonProvider(DefaultJSONProvider):
    """Reads with :func:`loads`; writes UTF-8, escaping only what UTF-8 cannot carry (lone surrogates)."""

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        return super().dumps(obj, **{**kwargs, "ensure_ascii": True}) if _SURROGATE.search(text) else text


class Parser(FlaskParser):
    """webargs' parser with the suite's reading of a JSON body (see the module's docstring)."""

    def load_json(self, req: Any, schema: ma.Schema) -> Any:
        body = req.get_data(cache=True)  # past the route's limit this raises 413
        if not body.strip():
            if any(field.required for field in schema.fields.values()):
                abort(400, message="the request body is empty; this endpoint takes a JSON object")
            return core.missing
        if not core.is_json(req.mimetype):
            abort(415, message=f"send the body as application/json, not {req.mimetype or 'without a media type'}")
        try:
            return loads(body)
        except BadJson as exc:
            abort(400, message=str(exc))


# What any endpoint taking a JSON body may answer before its schema runs (documented on each).
BODY_ERRORS = {400: "The body is empty, not JSON, or nested too deeply.", 413: "The body is too large.",
               415: "The body is not application/json."}


class ApiBlueprint(Blueprint):
    """The blueprint of every JSON API: flask-smorest's, reading bodies with :class:`Parser`."""

    ARGUMENTS_PARSER = Parser()

    def arguments(self, schema: Any, *, location: str = "json", **kwargs: Any) -> Callable[[F], F]:
        """flask-smorest's, plus the body errors documented when the arguments are a JSON body."""
        decorate = super().arguments(schema, location=location, **kwargs)
        if location != "json":
            return decorate

        def documented(view: F) -> F:
            view = decorate(view)
            for status, why in BODY_ERRORS.items():
                view = self.alt_response(status, schema=ErrorSchema, description=why)(view)
            return view

        return documented


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Give a route its own body size limit (e.g. a photo upload) instead of :data:`BODY_LIMIT`."""

    def decorate(view: F) -> F:
        view.body_limit = max_bytes  # type: ignore[attr-defined]
        return view

    return decorate


def install(app: Flask) -> None:
    """The app's JSON provider and the per-route body size limit (413 before anything is read)."""
    app.json = JsonProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = BODY_LIMIT

    @app.before_request
    def _limit_body() -> None:
        view = current_app.view_functions.get(request.endpoint or "")
        limit = getattr(view, "body_limit", None)
        if limit is not None:
            request.max_content_length = limit
