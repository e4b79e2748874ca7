"""Bearer tokens shared by every service: HS256 JWTs, the caller they name, and a CLI to issue them.

All services trust one secret (``JWT_SECRET``), so a token issued once (by the CLI in the demo, by an
identity provider in production) is accepted everywhere. Tokens carry the caller's role and, for
street-bound roles, the street (街道) they serve, which the services use to scope what callers see.

Every token has a ``jti`` (so one token can be revoked: :mod:`shared.auth_store`), numeric ``iat``/``exp``
and a lifetime of at most ``JWT_MAX_TTL_SECONDS``: a stolen token is useful for a bounded time only.

Usage::

    python -m shared.auth issue --role grid_worker --subject gw-001 --street dinghai
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from shared.contracts.reference import STREETS

ROLES = ("grid_worker", "hotline_agent", "helpdesk_agent", "officer", "supervisor", "admin", "enterprise",
         "alertmanager")
# People sign in with accounts; ``enterprise`` is never an account: it is the enterprise answering through
# the private link of one demand (its tokens' subject is that demand's id, minted by intake for minutes).
# ``alertmanager`` is no person either: Prometheus' Alertmanager posting its webhook (district-wide).
MACHINE_ROLES = frozenset({"enterprise", "alertmanager"})
ACCOUNT_ROLES = tuple(role for role in ROLES if role not in MACHINE_ROLES)
# What the admin desk's integration tokens page may issue: every account role and Alertmanager's; never
# ``enterprise`` (intake mints those for one demand's link).
TOKEN_ROLES = (*ACCOUNT_ROLES, "alertmanager")
# Grid workers and supervisors act for one street; officers reach streets through the roster,
# so their street claim is optional. The other roles are district-wide and carry no street.
STREET_REQUIRED_ROLES = frozenset({"grid_worker", "supervisor"})
STREET_OPTIONAL_ROLES = frozenset({"officer"})
ISSUER = "yangpu-suite"
ALGORITHM = "HS256"
DEFAULT_TTL_SECONDS = 12 * 3600
# The longest lifetime (exp - iat) a token may have, unless JWT_MAX_TTL_SECONDS says otherwise.
DEFAULT_MAX_TTL_SECONDS = 12 * 3600
# Clock skew tolerated between the services' hosts when checking exp/iat.
LEEWAY_SECONDS = 10
REQUIRED_CLAIMS = ("sub", "role", "iat", "exp", "iss", "jti")

class AuthError(Exception):
    """A token is missing, malformed, expired, forged or carries claims we do not accept."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``subject`` (user id), ``role`` (one of ROLES) and their street, if any.

    ``token_id`` (the ``jti``) and ``expires_at`` (``exp``) name the token itself, for revoking it; they
    take no part in comparing two principals.
    """

    subject: str
    role: str
    street: str | None
    token_id: str | None = field(default=None, compare=False)
    expires_at: int | None = field(default=None, compare=False)


def _check_role_street(role: str, street: str | None) -> str | None:
    """The reason a role/street pair is unacceptable, or None; shared by issuing and decoding."""
    if role not in ROLES:
        return f"unknown role {role!r} (known: {', '.join(ROLES)})"
    if street is not None and street not in STREETS:
        return f"unknown street {street!r} (known: {', '.join(STREETS)})"
    if street is None and role in STREET_REQUIRED_ROLES:
        return f"role {role} needs a street"
    if street is not None and role not in STREET_REQUIRED_ROLES | STREET_OPTIONAL_ROLES:
        return f"role {role} is district-wide and takes no street"
    return None


def issue_token(
    role: str,
    subject: str,
    street: str | None = None,
    *,
    secret: str,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    now: int | None = None,
    max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS,
) -> str:
    """Sign a token for ``subject``; raises ValueError for an unknown role/street or a bad pairing.

    ``now`` (epoch seconds) exists so tests can mint already-expired tokens. A lifetime above
    ``max_ttl_seconds`` is refused here as it would be by every service.
    """
    if not secret or not secret.strip():
        raise ValueError("a JWT secret is required")
    if not subject or not subject.strip():
        raise ValueError("subject must not be empty")
    if ttl_seconds <= 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    if ttl_seconds > max_ttl_seconds:
        raise ValueError(f"ttl_seconds {ttl_seconds} exceeds the maximum token lifetime {max_ttl_seconds}")
    problem = _check_role_street(role, street)
    if problem:
        raise ValueError(problem)
    iat = int(time.time()) if now is None else int(now)
    claims = {
        "sub": subject,
        "role": role,
        "street": street,
        "iat": iat,
        "exp": iat + ttl_seconds,
        "iss": ISSUER,
        "jti": str(uuid.uuid4()),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _is_number(value: object) -> bool:
    """A JSON number that is a time: not a string PyJWT would cast, not a bool, not NaN or infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode_token(token: str, secret: str, *, max_ttl_seconds: int = DEFAULT_MAX_TTL_SECONDS) -> Principal:
    """Verify signature, expiry, issuer and lifetime and turn the claims into a Principal, else AuthError.

    Every failure is an AuthError (a 401), never another exception: PyJWT would accept ``"exp": "9999999999"``
    (it casts), so times must be JSON numbers here, and any PyJWT error (an empty key too) is caught.
    """
    if not isinstance(token, str) or not secret:
        raise AuthError("token is invalid")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidSignatureError:
        raise AuthError("token signature is invalid") from None
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the {exc.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise AuthError("token was not issued by this suite") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"token is invalid: {exc}") from None
    except (jwt.PyJWTError, ValueError, TypeError, ArithmeticError):  # an unusable key, "exp": Infinity...
        raise AuthError("token is invalid") from None
    if not isinstance(claims, dict):
        raise AuthError("token is invalid")
    iat, exp, jti = claims["iat"], claims["exp"], claims["jti"]
    if not _is_number(iat) or not _is_number(exp):
        raise AuthError("token has malformed iat/exp claims (numbers required)")
    if exp - iat > max_ttl_seconds:
        raise AuthError("token lifetime exceeds the maximum allowed")
    if not isinstance(jti, str) or not jti or len(jti) > 200:
        raise AuthError("token has a malformed jti claim")
    subject, role, street = claims["sub"], claims["role"], claims.get("street")
    if not isinstance(role, str) or not isinstance(subject, str) or not subject:
        raise AuthError("token has malformed sub/role claims")
    if street is not None and not isinstance(street, str):
        raise AuthError("token has a malformed street claim")
    problem = _check_role_street(role, street)
    if problem:
        raise AuthError(f"token rejected: {problem}")
    return Principal(subject=subject, role=role, street=street, token_id=jti, expires_at=int(exp))


def roster_streets(roster_path: Path, officer_id: str) -> frozenset[str] | None:
    """The streets ``deploy/roster.yaml`` gives an officer ("*" = every street), or None if not listed.

    Read with plain YAML (``shared`` imports no service): issuing only needs who serves where.
    """
    import yaml

    data = yaml.safe_load(roster_path.read_text(encoding="utf-8")) or {}
    for entry in data.get("officers") or []:
        if isinstance(entry, dict) and entry.get("id") == officer_id:
            streets = entry.get("streets") or []
            return frozenset(STREETS) if "*" in streets else frozenset(str(s) for s in streets)
    return None


def check_officer_street(roster_path: Path, officer_id: str, street: str) -> str | None:
    """Why an officer's street claim contradicts the roster, or None: a claim widens what they may read,
    so it must be one of the streets the roster says they serve."""
    import yaml

    try:
        streets = roster_streets(roster_path, officer_id)
    except (OSError, AttributeError, yaml.YAMLError) as exc:
        return f"cannot read the roster {roster_path}: {exc}"
    if streets is None:
        return f"officer {officer_id!r} is not in the roster {roster_path}, so a street claim cannot be checked"
    if street not in streets:
        return f"officer {officer_id!r} does not serve street {street!r} (roster: {', '.join(sorted(streets))})"
    return None


# --- CLI --------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``issue`` prints a token (and only the token) so scripts can capture it with $(...)."""
    from shared.config import Settings

    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="Issue bearer tokens for the suite.")
    sub = parser.add_subparsers(dest="command", required=True)
    issue = sub.add_parser("issue", help="print a signed bearer token")
    issue.add_argument("--role", required=True, choices=ROLES)
    issue.add_argument("--subject", required=True, help="user id placed in the 'sub' claim")
    issue.add_argument("--street", default=None, help="street code; required for grid_worker/supervisor")
    issue.add_argument("--ttl", type=int, default=None, help="lifetime in seconds (default JWT_TTL_SECONDS)")
    args = parser.parse_args(argv)

    settings = Settings.for_command()
    ttl = settings.jwt_ttl_seconds if args.ttl is None else args.ttl
    if args.role == "officer" and args.street is not None:
        problem = check_officer_street(settings.roster_path, args.subject, args.street)
        if problem:
            issue.error(problem)  # exits with status 2
    try:
        token = issue_token(
            args.role, args.subject, args.street, secret=settings.jwt_secret, ttl_seconds=ttl,
            max_ttl_seconds=settings.jwt_max_ttl_seconds,
        )
    except ValueError as exc:
        issue.error(str(exc))  # exits with status 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
