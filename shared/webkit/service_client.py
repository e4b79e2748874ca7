"""The pages' calls to other services: the one named exception to "services talk only through events".

A page may show what another service knows (the reporter's view, the SLA figures) by GETting that
service's public JSON API as the signed-in user (a bearer token minted for them for a few minutes, see
:func:`shared.webkit.pages.service_token`), so the other service applies its own access rules; services
never read each other's tables.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flask import current_app

from shared.config import Settings
from shared.webkit.pages import service_token

SERVICE_TIMEOUT_S = 3.0


class ServiceUnavailable(Exception):
    """Another service did not answer, or refused; pages show what they have and say so. ``status`` is the
    HTTP status of a refusal (e.g. 409), None when the service did not answer at all."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def call_service(service: str, path: str, params: dict[str, Any] | None = None, *,
                 body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    """GET another service's JSON API as the signed-in user (services never read each other's tables), or
    POST ``body`` as JSON when one is given (an action the other service checks for that user); raises
    ServiceUnavailable on any failure. ``token`` speaks for someone who has no sign-in (the enterprise
    through its private link) instead of the signed-in user."""
    token = token or service_token()
    if not token:
        raise ServiceUnavailable("not signed in")
    settings: Settings = current_app.extensions["yangpu"]["context"].settings
    query = f"?{urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})}" if params else ""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"{settings.internal_urls[service]}{path}{query}", data=data, headers=headers,
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=SERVICE_TIMEOUT_S) as resp:  # noqa: S310 - our own services
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        raise ServiceUnavailable(f"{service} {path}: {exc}", exc.code) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServiceUnavailable(f"{service} {path}: {exc}") from None
