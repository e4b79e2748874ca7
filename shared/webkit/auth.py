"""The Flask guard of the JSON APIs: a valid bearer token (:mod:`shared.auth`) and a permitted role.

:func:`install` (called by every service's ``create_app``) opens the identity store
(:mod:`shared.auth_store`) and adds ``POST /auth/revocations``, so every service refuses a revoked token,
in its API (:func:`require`) and its pages (``shared.webkit.pages``) alike, through :func:`principal_for`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import marshmallow as ma
from flask import Flask, Response, current_app, g, jsonify, request
from flask_smorest import Api, abort

from shared.auth import DEFAULT_MAX_TTL_SECONDS, ISSUER, LEEWAY_SECONDS, ROLES, AuthError, Principal, decode_token
from shared.auth_store import AuthStore, StoreUnavailable
from shared.config import Settings
from shared.fields import Token, moment
from shared.webkit.app import answers
from shared.webkit.inputs import ApiBlueprint

F = TypeVar("F", bound=Callable[..., Any])
STORE = "yangpu_auth"  # app.extensions key of the AuthStore


def install(app: Flask, api: Api, settings: Settings) -> AuthStore:
    """Give a service's app the identity store (deny list) and the admins' revocation endpoint."""
    app.config["JWT_MAX_TTL_SECONDS"] = settings.jwt_max_ttl_seconds
    store = AuthStore.open(settings.auth_database_url)
    app.extensions[STORE] = store
    api.register_blueprint(revocations)
    return store


def auth_store(app: Flask | None = None) -> AuthStore | None:
    """The app's identity store; None only for a bare Flask app that never went through ``create_app``."""
    return (app or current_app).extensions.get(STORE)


def principal_for(token: str) -> Principal:
    """The caller a token names if it is valid here and not revoked, else AuthError (StoreUnavailable when
    the deny list cannot be read: nobody is let in unchecked)."""
    principal = decode_token(token, current_app.config["JWT_SECRET"],
                             max_ttl_seconds=current_app.config.get("JWT_MAX_TTL_SECONDS", DEFAULT_MAX_TTL_SECONDS))
    store = auth_store()
    if store is not None and store.is_revoked(principal.token_id):
        raise AuthError("token has been revoked")
    return principal


def _error(status: int, code: str, message: str, www_authenticate: str | None = None) -> Response:
    resp = jsonify({"code": code, "message": message, "errors": {}})
    resp.status_code = status
    if www_authenticate:
        resp.headers["WWW-Authenticate"] = www_authenticate
    return resp


def _authenticate() -> Principal | Response:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return _error(401, "unauthorized", "missing bearer token", f'Bearer realm="{ISSUER}"')
    if scheme.lower() != "bearer" or not token.strip():
        return _error(
            401, "unauthorized", "Authorization header must be 'Bearer <token>'",
            f'Bearer realm="{ISSUER}", error="invalid_request"',
        )
    if "JWT_SECRET" not in current_app.config:
        raise RuntimeError("app.config['JWT_SECRET'] is not set")
    try:
        return principal_for(token.strip())
    except AuthError as exc:
        return _error(
            401, "unauthorized", exc.message, f'Bearer realm="{ISSUER}", error="invalid_token"'
        )
    except StoreUnavailable:
        return _error(503, "unavailable", "tokens cannot be checked right now; try again shortly")


def require(*roles: str) -> Callable[[F], F]:
    """Guard a view: 401 without a valid bearer token, 403 if the role is not in ``roles``.

    ``@require()`` admits any authenticated caller. On success ``flask.g.principal`` is set. The
    wrapper is a plain function decorator, so it also works on flask-smorest MethodView methods.
    """
    for role in roles:
        if not isinstance(role, str):
            raise TypeError("use @require(...) with parentheses and role names")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    allowed = frozenset(roles)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            result = _authenticate()
            if isinstance(result, Response):
                return result
            if allowed and result.role not in allowed:
                return _error(
                    403, "forbidden",
                    f"role {result.role} may not call {request.endpoint} "
                    f"(allowed: {', '.join(sorted(allowed))})",
                )
            g.principal = result
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def current_principal() -> Principal:
    """The caller authenticated by ``@require`` for this request; RuntimeError outside one."""
    principal = g.get("principal")
    if not isinstance(principal, Principal):
        raise RuntimeError("no authenticated principal: is the view decorated with @require()?")
    return principal




# --- revoking a token: any service answers, the store is the platform's --------------------------------


class RevocationIn(ma.Schema):
    jti = Token(200, required=True, metadata={"description": "The token's `jti` claim"})
    expires_at = moment("The token's `exp`, if known: the entry is kept until then. Without it, the entry is "
                        "kept as long as any token can live (JWT_MAX_TTL_SECONDS).", load_default=None)


class RevocationOut(ma.Schema):
    jti = ma.fields.String(metadata={"description": "The revoked token's `jti`"})
    expires_at = ma.fields.AwareDateTime(metadata={"description": "When the entry is purged"})


revocations = ApiBlueprint("auth", __name__, url_prefix="/auth",
                        description="Revoke a bearer token (admins): refused by every service within a second")


@revocations.route("/revocations", methods=["POST"])
@require("admin")
@revocations.arguments(RevocationIn)
@revocations.response(201, RevocationOut)
@answers(revocations, {403: "Only an admin may revoke tokens.", 422: "Missing or malformed jti or expires_at.",
                       503: "The identity store cannot be reached."})
def revoke(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Revoke one token by its `jti`: every service refuses it (API and pages) within a second.

    The entry expires with the token, so the deny list stays small. It cannot outlive the longest lifetime a
    token may have, which is also the default when `expires_at` is not given.
    """
    longest = int(time.time()) + current_app.config.get("JWT_MAX_TTL_SECONDS", DEFAULT_MAX_TTL_SECONDS) \
        + LEEWAY_SECONDS
    given: datetime | None = body.get("expires_at")
    expires_at = min(longest, int(given.timestamp())) if given else longest
    store = auth_store()
    if store is None:
        abort(503, message="this app has no identity store")
    try:
        store.revoke(body["jti"], expires_at, by=current_principal().subject)
    except StoreUnavailable:
        abort(503, message="the identity store cannot be reached")
    return {"jti": body["jti"], "expires_at": datetime.fromtimestamp(expires_at, UTC)}, 201
