"""The ``alertmanager`` role (Alertmanager's webhook) reaches nothing but its webhook.

Most endpoints admit any authenticated caller and let the use case scope what it sees (``@require()``), so a
new district-wide role is checked against every route of every service: no 5xx, and no answer carrying the
demand the suite holds or its street's people.
"""

from __future__ import annotations

import pytest

from shared.auth import ACCOUNT_ROLES, ROLES, TOKEN_ROLES, decode_token, issue_token
from tests.security.conftest import STREET, Secured
from tests.security.test_inputs import _routes

WEBHOOK = ("routing", "POST", "/api/v1/alerts/webhook")


def test_alertmanager_is_a_district_wide_machine_role() -> None:
    secret = "unit-test-secret-that-is-long-enough-for-hs256"
    assert "alertmanager" in ROLES and "alertmanager" not in ACCOUNT_ROLES and "alertmanager" in TOKEN_ROLES
    assert "enterprise" not in TOKEN_ROLES
    assert decode_token(issue_token("alertmanager", "alertmanager", secret=secret), secret).street is None
    with pytest.raises(ValueError, match="district-wide"):
        issue_token("alertmanager", "alertmanager", STREET, secret=secret)


def test_every_route_as_alertmanager_shows_nothing(secured: Secured) -> None:
    """Each route once, bodies empty: 5xx or a 2xx naming the routed demand or its officer is a leak."""
    caller = {**secured.auth("alertmanager", "alertmanager"), "Accept": "application/json"}
    problems = []
    for service, method, path in _routes(secured):
        if (service, method, path) == WEBHOOK:
            continue
        response = secured.clients[service].open(path, method=method, json=None if method == "GET" else {},
                                                 headers=caller)
        text = response.get_data(as_text=True)
        if response.status_code >= 500:
            problems.append(f"{method} {service}{path}: {response.status_code}")
        elif response.status_code < 300 and (secured.demand_id in text or secured.officer_id in text):
            problems.append(f"{method} {service}{path}: {response.status_code} shows the demand or its officer")
    assert problems == [], "\n".join(problems)
