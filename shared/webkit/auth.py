"""The Flask guard of the JSON APIs: a valid bearer token (:mod:`shared.auth`) and a permitted role.

:func:`install` (called by every service's ``create_app``) opens the identity store
(:mod:`shared.auth_store`), its accounts and sessions (:mod:`shared.accounts`), and adds
``POST /auth/revocations`` and the admins' ``/auth/accounts`` API, so every service refuses a revoked token
(:func:`principal_for`) and any service can manage accounts: the store is the platform's, not a service's.
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
from sqlalchemy.exc import SQLAlchemyError

from shared.accounts import USERNAME, Account, AccountRefused, Accounts
from shared.auth import (
    ACCOUNT_ROLES,
    DEFAULT_MAX_TTL_SECONDS,
    ISSUER,
    LEEWAY_SECONDS,
    ROLES,
    AuthError,
    Principal,
    decode_token,
)
from shared.auth_store import AuthStore, StoreUnavailable
from shared.config import Settings
from shared.contracts.reference import STREETS
from shared.fields import Instant, Token, moment
from shared.webkit.app import answers
from shared.webkit.inputs import ApiBlueprint

F = TypeVar("F", bound=Callable[..., Any])
STORE = "yangpu_auth"  # app.extensions key of the AuthStore
ACCOUNTS = "yangpu_accounts"  # app.extensions key of the Accounts


def install(app: Flask, api: Api, settings: Settings) -> AuthStore:
    """Give a service's app the identity store (deny list) and the admins' revocation endpoint."""
    app.config["JWT_MAX_TTL_SECONDS"] = settings.jwt_max_ttl_seconds
    store = AuthStore.open(settings.auth_database_url)
    app.extensions[STORE] = store
    app.extensions[ACCOUNTS] = Accounts(store.engine, idle_seconds=settings.session_idle_seconds,
                                        max_seconds=settings.jwt_max_ttl_seconds, roster_path=settings.roster_path)
    api.register_blueprint(revocations)
    api.register_blueprint(accounts_api)
    return store


def accounts_of(app: Flask | None = None) -> Accounts | None:
    """The app's accounts and sessions; None only for a bare Flask app that never went through ``create_app``."""
    return (app or current_app).extensions.get(ACCOUNTS)


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
    expires_at = Instant(metadata={"description": "When the entry is purged"})


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


# --- accounts: admins create, reset, unlock, disable; any service answers ------------------------------

PASSWORD = r"^[^\x00-\x1f\x7f]{10,200}$"
EMAIL_FIELD = r"^[^@\s]{1,64}@[^@\s]{1,185}\.[^@\s]{2,}$"


class AccountIn(ma.Schema):
    username = ma.fields.String(required=True, validate=ma.validate.Regexp(USERNAME, error="3-64 of a-z, 0-9, '.', "
                                                                           "'_', '-', starting with a letter or digit"),
                                metadata={"description": "Sign-in name (lower case)"})
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ACCOUNT_ROLES),
                            metadata={"description": "The role"})
    street = ma.fields.String(load_default=None, validate=ma.validate.OneOf(sorted(STREETS)),
                              metadata={"description": "Street code: required for grid workers and supervisors"})
    email = ma.fields.String(required=True, validate=[ma.validate.Length(3, 254),
                                                      ma.validate.Regexp(EMAIL_FIELD, error="not an e-mail address")],
                             metadata={"description": "Where the person is reached (not used to sign in)"})
    officer_id = Token(100, load_default=None, metadata={"description": "An officer's roster id (required for them)"})
    password = ma.fields.String(load_default=None, validate=ma.validate.Regexp(PASSWORD, error="10-200 characters, "
                                                                               "no control characters"),
                                metadata={"description": "The one-time initial password; generated when absent"})


class PasswordResetIn(ma.Schema):
    password = ma.fields.String(load_default=None, validate=ma.validate.Regexp(PASSWORD, error="10-200 characters, "
                                                                               "no control characters"),
                                metadata={"description": "The one-time password; generated when absent"})


class AccountOut(ma.Schema):
    username = ma.fields.String(metadata={"description": "Sign-in name"})
    role = ma.fields.String(metadata={"description": "The role"})
    street = ma.fields.String(allow_none=True, metadata={"description": "Street code, for street-bound roles"})
    email = ma.fields.String(metadata={"description": "E-mail address"})
    officer_id = ma.fields.String(allow_none=True, metadata={"description": "An officer's roster id"})
    must_change_password = ma.fields.Boolean(metadata={"description": "The next sign-in must choose a password"})
    locked_until = Instant(allow_none=True, metadata={"description": "Set while locked"})
    disabled = ma.fields.Boolean(metadata={"description": "No sign-in possible"})
    initial_password = ma.fields.String(metadata={"description": "The generated one-time password: shown once"})


class AccountListOut(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(AccountOut), metadata={"description": "Every account, by username"})


accounts_api = ApiBlueprint("accounts", __name__, url_prefix="/auth/accounts",
                            description="Password accounts for the pages (admins): create, reset, unlock, disable")
_STATUS = {"invalid": 422, "not_found": 404, "conflict": 409}


def _accounts() -> Accounts:
    found = accounts_of()
    if found is None:
        abort(503, message="this app has no identity store")
    return found


def _out(account: Account, initial: str | None = None) -> dict[str, Any]:
    now = time.time()
    out = {"username": account.username, "role": account.role, "street": account.street, "email": account.email,
           "officer_id": account.officer_id, "must_change_password": account.must_change_password,
           "locked_until": datetime.fromtimestamp(account.locked_until, UTC) if account.locked(now) else None,
           "disabled": account.disabled}
    return {**out, "initial_password": initial} if initial else out


def _run(action: Callable[[], Any]) -> Any:
    """An account operation; its refusal becomes the suite's error answer, an unreachable store a 503."""
    try:
        return action()
    except AccountRefused as exc:
        abort(_STATUS[exc.kind], message=exc.message, errors=exc.errors)
    except (StoreUnavailable, SQLAlchemyError):
        abort(503, message="the identity store cannot be reached")


@accounts_api.route("", methods=["GET"])
@require("admin")
@accounts_api.response(200, AccountListOut)
@answers(accounts_api, {403: "Only an admin may list accounts.", 503: "The identity store cannot be reached."})
def list_accounts() -> dict[str, Any]:
    """Every account with its state (locked, disabled, must change its password)."""
    return {"items": [_out(a) for a in _run(lambda: _accounts().list())]}


@accounts_api.route("", methods=["POST"])
@require("admin")
@accounts_api.arguments(AccountIn)
@accounts_api.response(201, AccountOut)
@answers(accounts_api, {403: "Only an admin may create accounts.", 409: "The username is taken.",
                        422: "A field is invalid (role/street pairing, roster id, weak password...).",
                        503: "The identity store cannot be reached."})
def create_account(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create an account; its password is one-time (changed at the first sign-in), generated unless given."""
    account, generated = _run(lambda: _accounts().create(
        body["username"], body["role"], body["email"], body.get("street"), body.get("officer_id"),
        password=body.get("password"), by=current_principal().subject))
    return _out(account, generated), 201


def _one(action: str, why: str) -> Callable[[str], dict[str, Any]]:
    """An admin's action on one account by its username (unlock, disable, enable)."""

    def view(username: str) -> dict[str, Any]:
        return _out(_run(lambda: getattr(_accounts(), action)(username, by=current_principal().subject)))

    view.__name__ = f"{action}_account"
    view.__doc__ = why
    view = answers(accounts_api, {403: f"Only an admin may {action} accounts.", 404: "No such account.",
                                  503: "The identity store cannot be reached."})(view)
    view = accounts_api.response(200, AccountOut)(view)
    view = require("admin")(view)
    return accounts_api.route(f"/<username>/{action}", methods=["POST"])(view)


_one("unlock", "Lift a lock now (a lock also ends by itself).")
_one("disable", "The account can no longer sign in; its sessions end at once.")
_one("enable", "Allow a disabled account to sign in again.")


@accounts_api.route("/<username>/password-reset", methods=["POST"])
@require("admin")
@accounts_api.arguments(PasswordResetIn)
@accounts_api.response(200, AccountOut)
@answers(accounts_api, {403: "Only an admin may reset passwords.", 404: "No such account.",
                        422: "The given password is too weak.", 503: "The identity store cannot be reached."})
def reset_password(body: dict[str, Any], username: str) -> dict[str, Any]:
    """A new one-time password (generated unless given) to change at the next sign-in; unlocks the account
    and ends its sessions."""
    account, generated = _run(lambda: _accounts().reset_password(username, body.get("password"),
                                                                 by=current_principal().subject))
    return _out(account, generated)
