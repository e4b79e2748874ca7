"""The OpenAPI document describes every intake endpoint and error, and a schema-driven fuzz finds no 5xx."""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from shared.validation import uscc_with_check
from tests.helpers import ENTERPRISES

OPERATIONS = {
    ("post", "/api/v1/demands"): {"201", "400", "401", "403", "409", "422"},
    ("get", "/api/v1/demands"): {"200", "401", "403", "422"},
    ("get", "/api/v1/demands/{demand_id}"): {"200", "401", "403", "404"},
    ("get", "/api/v1/demands/likely-duplicates"): {"200", "401", "403", "422"},
    ("post", "/api/v1/demands/{demand_id}/attachments"): {"201", "401", "403", "404", "409", "413", "415", "422"},
    ("get", "/api/v1/demands/{demand_id}/attachments"): {"200", "401", "403", "404"},
    ("get", "/api/v1/demands/{demand_id}/attachments/{attachment_id}"): {"200", "401", "403", "404"},
    ("post", "/api/v1/demands/{demand_id}/enterprise-link"): {"201", "401", "403", "404"},
    ("get", "/open311/v2/services.json"): {"200", "401"},
    ("get", "/open311/v2/services/{service_code}.json"): {"200", "401", "404"},
    ("post", "/open311/v2/requests.json"): {"201", "400", "401", "403", "409"},
    ("get", "/open311/v2/requests.json"): {"200", "400", "401"},
    ("get", "/open311/v2/requests/{request_id}.json"): {"200", "401", "403", "404"},
    # The platform's working calendar, served by every service (shared/webkit/calendar_api.py).
    ("get", "/api/v1/calendar/{year}"): {"200", "401", "403", "422"},
    ("put", "/api/v1/calendar/{year}"): {"200", "401", "403", "422", "503"},
}


def test_every_endpoint_and_error_is_documented(intake):
    spec = intake.client.get("/openapi.json").get_json()
    documented = {(method, path): op for path, ops in spec["paths"].items() for method, op in ops.items()
                  if method != "parameters" and path.startswith(("/api/v1", "/open311"))}
    assert set(documented) == set(OPERATIONS)
    for key, statuses in OPERATIONS.items():
        op = documented[key]
        assert statuses <= set(op["responses"]), key
        assert op["security"] == [{"bearerAuth": []}], key
        assert op.get("summary"), key
        for status in statuses - {"200", "201"}:
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            expected = "Open311Error" if key[1].startswith("/open311") else "Error"
            assert expected in str(schema), (key, status)
    demand_in = spec["components"]["schemas"]["DemandIn"]
    assert set(demand_in["required"]) == {"channel", "street", "category", "title", "description", "enterprise"}
    assert demand_in["properties"]["street"]["enum"][0] == "changbai"
    form = spec["components"]["schemas"]["RequestForm"]
    assert {"service_code", "description", "attribute[uscc]", "attribute[street]"} <= set(form["required"])
    undocumented = [f"{name}.{prop}" for name, schema in spec["components"]["schemas"].items()
                    for prop, field in schema.get("properties", {}).items()
                    if not {"description", "enum", "$ref"} & set(field)]
    undocumented += [f"{path} {p['name']}" for (_m, path), op in documented.items()
                     for p in op.get("parameters", []) if "description" not in p]
    assert undocumented == []


# JSON Schema cannot express a USCC checksum, a phone number plan or "at most 30 days ago", so valid-looking
# generated bodies would nearly all stop at those checks. Half of the generated POSTs get a real USCC and phone
# (known to the registry or new to it) so the fuzz also reaches the registry, the insert and the outbox.
USCCS = [e["uscc"] for e in ENTERPRISES[:4]] + [uscc_with_check(f"91310110MA{n:07d}") for n in range(4)]


def _realistic(case, uscc, phone):
    body = case.body
    if case.operation.method.upper() != "POST" or not isinstance(body, dict):
        return case
    if case.operation.path == "/api/v1/demands" and isinstance(body.get("enterprise"), dict):
        body["enterprise"].update(uscc=uscc, contact_phone=phone)
        body.pop("reported_at", None)
        body["street"] = "wujiaochang"  # the fuzzing supervisor's street: they log there only
    elif case.operation.path == "/open311/v2/requests.json":
        body.update({"attribute[uscc]": uscc, "attribute[contact_phone]": phone, "attribute[street]": "wujiaochang"})
        body.pop("attribute[reported_at]", None)
    return case


def _cases(operation, mode):
    generated = operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return generated
    phones = st.sampled_from(["13812345678", "021-65432100"])
    realistic = st.builds(_realistic, generated, st.sampled_from(USCCS), phones)
    return st.one_of(generated, realistic)


@pytest.mark.both_backends
def test_fuzzing_finds_no_server_error(intake):
    """Schemathesis generates valid and invalid requests for every operation (bounded) and checks each answer
    against the document: no 5xx, documented status codes, headers and bodies. Both backends: PostgreSQL
    refuses things SQLite takes (NUL characters), which is how such a fuzz earns its keep."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", intake.client.application)
    headers = intake.auth("supervisor", "sup-wujiaochang", "wujiaochang")
    statuses = Counter()
    for method, path in sorted(OPERATIONS):
        operation = schema[path][method.upper()]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=_cases(operation, mode))
            @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
            def run(case):
                response = case.call_and_validate(headers={**(case.headers or {}), **headers},
                                                  excluded_checks=[positive_data_acceptance])
                statuses[response.status_code] += 1

            run()
    assert statuses[201] > 0 and statuses[200] > 0  # the fuzz got past validation, not only bounced off it
