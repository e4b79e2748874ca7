"""The Flask guard of the JSON APIs: a valid bearer token (:mod:`shared.auth`) and a permitted role."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request

from shared.auth import ISSUER, ROLES, AuthError, Principal, decode_token

F = TypeVar("F", bound=Callable[..., Any])


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
    try:
        secret = current_app.config["JWT_SECRET"]
    except KeyError:
        raise RuntimeError("app.config['JWT_SECRET'] is not set") from None
    try:
        return decode_token(token.strip(), secret)
    except AuthError as exc:
        return _error(
            401, "unauthorized", exc.message, f'Bearer realm="{ISSUER}", error="invalid_token"'
        )


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


