"""Schema-driven fuzzing of all three services' APIs with the hostile values of issue 12, on both backends.

Schemathesis generates valid and invalid requests from each service's OpenAPI document; each case is also
sent poisoned: a lone surrogate, a NUL, a bidi override or a zero-width space appended to every string of
its body and query, and with a body nested 1,000 levels deep. Whatever is sent, nothing answers 5xx.
"""

from __future__ import annotations

import json
import urllib.parse
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.security.conftest import Secured

POISONS = ["\ud800", "\x00", "\u202e", "\u200b"]


def poisoned(value: Any, poison: str) -> Any:
    """``value`` with ``poison`` appended to every string in it (keys left alone)."""
    if isinstance(value, str):
        return value + poison
    if isinstance(value, dict):
        return {k: poisoned(v, poison) for k, v in value.items()}
    if isinstance(value, list):
        return [poisoned(v, poison) for v in value]
    return value


def _urlencoded(values: dict[str, Any]) -> str:
    """As a browser would put them on the wire: a lone surrogate becomes the bytes of its UTF-8 form."""
    return urllib.parse.urlencode(values, doseq=True, encoding="utf-8", errors="surrogatepass")


def _send(client: Any, case: Any, headers: dict[str, str], body: Any, query: Any) -> int:
    """The case as a client would send it, through the Flask test client (schemathesis would re-validate
    the poisoned values itself and stumble over the surrogates)."""
    form = case.media_type == "application/x-www-form-urlencoded"
    data = (_urlencoded(body) if form and isinstance(body, dict) else body if isinstance(body, bytes)
            else json.dumps(body)) if body is not None else None
    response = client.open(case.formatted_path, method=case.method, query_string=_urlencoded(query or {}), data=data,
                           content_type=case.media_type or "application/json",
                           headers={**{k: str(v) for k, v in (case.headers or {}).items()}, **headers})
    assert response.status_code < 500, (case.method, case.formatted_path, response.get_data(as_text=True)[:300])
    return response.status_code


def _fuzz(client: Any, operation: Any, mode: GenerationMode, headers: dict[str, str], path_values: dict[str, str],
          statuses: Counter[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode), poison=st.sampled_from(POISONS))
    @settings(max_examples=6, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any, poison: str) -> None:
        if case.path_parameters and mode is GenerationMode.POSITIVE:  # reach a real demand or officer
            case.path_parameters = {k: path_values.get(k, v) for k, v in case.path_parameters.items()}
        body = None if case.body is None or type(case.body).__name__ == "NotSet" else case.body
        variants = [(body, case.query), (poisoned(body, poison), poisoned(case.query, poison))]
        if case.method.upper() in ("POST", "PUT", "PATCH"):
            variants.append(("[" * 1000 + "]" * 1000).encode())  # type: ignore[arg-type]
        for variant in variants:
            sent_body, query = variant if isinstance(variant, tuple) else (variant, case.query)
            statuses[_send(client, case, headers, sent_body, query)] += 1

    run()


@pytest.mark.parametrize("service", ["intake", "routing", "sla"])
def test_fuzzing_with_hostile_strings_finds_no_server_error(secured: Secured, service: str) -> None:
    schema = schemathesis.openapi.from_wsgi("/openapi.json", secured.clients[service].application)
    path_values = {"demand_id": secured.demand_id, "officer_id": secured.officer_id, "street": "wujiaochang"}
    statuses: Counter[int] = Counter()
    for role in ("admin", "supervisor"):
        for operation in schema.get_all_operations():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                _fuzz(secured.clients[service], operation.ok(), mode, secured.caller(role), path_values, statuses)
    assert any(400 <= s < 500 for s in statuses) and any(s < 300 for s in statuses), statuses
