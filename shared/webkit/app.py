"""What every service's web process has in common: the Flask app, errors, probes, metrics, OpenAPI.

Errors have one JSON shape everywhere: ``{"code", "message", "errors"}`` where ``errors`` maps each
field path (``enterprise.uscc``) to its problems, all of them at once.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, request
from flask_smorest import Api, Blueprint
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from shared import logs
from shared.context import ServiceContext
from shared.db import ping
from shared.messaging.backends import ping as ping_bus
from shared.metrics import BUILD_INFO, HTTP_SECONDS, VERSION, render
from shared.validation import flatten_errors
from shared.webkit import errors, inputs
from shared.webkit.errors import ErrorSchema

F = TypeVar("F", bound=Callable[..., Any])
_CODES = {
    400: "malformed_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "validation_failed", 429: "too_many_requests", 500: "internal_error", 503: "unavailable",
}


# A caller's X-Request-ID is kept (to follow a request across services) only if it looks like one.
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
log = logging.getLogger(__name__)

BEARER = [{"bearerAuth": []}]
UNAUTHORIZED = "No valid bearer token."


def answers(blp: Blueprint, errors: dict[int, str]) -> Callable[[F], F]:
    """Document an endpoint that needs a bearer token: its security, 401, and each error status with why."""

    def decorate(view: F) -> F:
        for status, why in sorted({401: UNAUTHORIZED, **errors}.items(), reverse=True):
            view = blp.alt_response(status, schema=ErrorSchema, description=why)(view)
        return blp.doc(security=BEARER)(view)

    return decorate


class SuiteApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> tuple[dict[str, Any], int, dict[str, str]]:
        status = error.code or 500
        data = getattr(error, "data", None) or {}
        errors = data.get("errors")
        if errors is None and "messages" in data:
            # webargs: {"json": {...}} -> strip the location, flatten the rest
            messages = data["messages"]
            if isinstance(messages, dict) and len(messages) == 1:
                messages = next(iter(messages.values()))
            errors = flatten_errors(messages)
        if status == 400 and not data.get("message"):
            message = "the request body is not valid JSON"
        elif status == 422 and not data.get("message"):
            message = "some fields are invalid; see errors"
        else:
            message = data.get("message") or error.description or error.name
        payload = {"code": data.get("code") or _CODES.get(status, "error"), "message": message,
                   "errors": errors or {}}
        return payload, status, data.get("headers") or {}


ReadinessCheck = Callable[[], None]


def create_app(ctx: ServiceContext, blueprints: list[Any], description: str,
               collectors: Callable[[Engine], list[Collector]] | None = None) -> Flask:
    """A service's Flask app with its database, probes, metrics, error shape and OpenAPI document.

    ``collectors`` builds, from the app's engine, custom collectors computed at scrape time (e.g. counts
    read from the database); /metrics appends them to the process or multiprocess registry.
    """
    service, settings, engine = ctx.service, ctx.settings, ctx.engine
    settings.check_production_ready()
    app = Flask(service)
    if hops := settings.trusted_proxy_hops:  # behind the TLS proxy: its scheme, client and host, no one else's
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    app.config.update(
        JWT_SECRET=settings.jwt_secret,
        API_TITLE=f"Yangpu {service} service",
        API_VERSION=VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                                             "bearerFormat": "JWT"}}},
        },
        JSON_SORT_KEYS=False,
    )
    app.extensions["yangpu"] = {"context": ctx}
    inputs.install(app)
    api = SuiteApi(app)
    errors.install(app)
    for bp in blueprints:
        api.register_blueprint(bp)
    from shared.webkit.auth import install as install_auth  # it imports this module: no cycle at import

    install_auth(app, api, settings)  # the identity store (deny list) and POST /auth/revocations
    from shared.webkit.calendar_api import calendar_api

    api.register_blueprint(calendar_api)  # the platform's working calendar, served by every service
    BUILD_INFO.labels(service, VERSION).set(1)

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        asked = request.headers.get("X-Request-ID", "")
        g.request_id = asked if REQUEST_ID.match(asked) else uuid.uuid4().hex
        g.log_token = logs.request_id.set(g.request_id)

    @app.after_request
    def _finish(response: Response) -> Response:
        route = request.url_rule.rule if request.url_rule else "unmatched"
        HTTP_SECONDS.labels(service, request.method, route, str(response.status_code)).observe(
            time.perf_counter() - g.get("started", time.perf_counter()))
        response.headers["X-Request-ID"] = g.get("request_id", "")
        if not (request.endpoint or "").endswith("static"):  # answers may name people: no cache keeps them
            response.headers.setdefault("Cache-Control", "no-store")
        if "log_token" in g:
            logs.request_id.reset(g.log_token)
        return response

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        failed = {}
        for name, check in (("database", lambda: ping(engine)), ("bus", lambda: ping_bus(settings))):
            try:
                check()
            except Exception as exc:  # any failure means not ready: say which to the caller, why to the log
                failed[name] = "unreachable"
                log.warning("readiness: %s check failed: %s: %s", name, exc.__class__.__name__, str(exc)[:200])
        if failed:
            return jsonify(status="unavailable", service=service, failed=failed), 503
        return jsonify(status="ready", service=service), 200

    scraped = CollectorRegistry(auto_describe=True)
    for collector in collectors(engine) if collectors else []:
        scraped.register(collector)

    @app.get("/metrics")
    def metrics() -> Response:
        body, content_type = render()
        return Response(body + generate_latest(scraped), content_type=content_type)

    return app


def context() -> Any:
    """The service context of the current app (built by the service's bootstrap); for http/ modules only."""
    from flask import current_app

    return current_app.extensions["yangpu"]["context"]
