"""Intake's web faces: the JSON API, Open311 GeoReport v2 and the grid worker's pages.

The only place of intake where Flask is imported and where a refusal (:class:`IntakeRefused`) becomes an
HTTP status (:mod:`shared.webkit.errors`, Open311's own error list) or a page message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from flask import url_for

from intake_service import commands
from intake_service.bootstrap import Context
from intake_service.domain.policy import Caller
from shared.webkit.app import context
from shared.webkit.auth import current_principal
from shared.webkit.pages import service_url


def ctx() -> Context:
    """Intake's context, built once by the app's bootstrap."""
    return cast(Context, context())


def caller() -> Caller:
    """Who is calling, as the rules see them (set by ``@require`` or ``@require_page``)."""
    principal = current_principal()
    return caller_of(ctx(), principal.subject, principal.role, principal.street)


def caller_of(context: Context, subject: str, role: str, street: str | None) -> Caller:
    """The rules' caller: an officer's kind and streets come from the roster, never from the token's street."""
    officer = context.roster.get(subject) if role == "officer" else None
    if officer is None:
        return Caller(subject, role, street)
    return Caller(subject, role, street, kind=officer.kind, streets=officer.streets)


def issue_link(demand_id: str) -> tuple[commands.IssuedLink, str, datetime]:
    """Issue the enterprise's private link to the demand as the caller (the API and the link page both do):
    what was issued, the link's address, and when."""
    now = datetime.now(UTC)
    issued = commands.issue_enterprise_link(ctx(), caller(), demand_id, now)
    return issued, service_url("intake", url_for("enterprise.view", token=issued.token)), now
