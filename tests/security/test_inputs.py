"""Bad input, replayed class by class on both backends: a clear 4xx naming the field, nothing changed, no 5xx.

Each class of issue 12's probe findings is a parametrized test over every place it can reach: deep JSON,
lone surrogates, NUL and other controls, bidi overrides and invisible-only text, out-of-range numbers,
dates and cursors, wrong media types, empty and oversized bodies, hostile headers. The last test sends a
hostile corpus to every route of every service as two roles and asserts that nothing answers 5xx.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from intake_service.model import Demand
from tests.helpers import demand_body
from tests.security.conftest import STREET, Secured
from tests.signin import session_for

# The page session of each role test_no_request_gets_a_server_error signs in as: (subject, street).
CALLERS = {"admin": ("admin-1", None), "supervisor": ("sup-wujiaochang", STREET)}

OFFICER = {"id": "sec-officer", "name": "安全测试", "kind": "street_commissioner", "streets": [STREET],
           "capacity": 5, "duty": {"days": ["mon"], "from": "09:00", "to": "17:00"}}


def _bodies(s: Secured) -> dict[str, tuple[str, str, str, str, dict[str, Any]]]:
    """Every endpoint taking a JSON body: (service, method, path, role, a valid body)."""
    demand = f"/api/v1/demands/{s.demand_id}"
    return {
        "log a demand": ("intake", "POST", "/api/v1/demands", "grid_worker", demand_body()),
        "transfer": ("routing", "POST", f"{demand}/transfer", "supervisor",
                     {"to_department": "market_regulation", "reason": "需要税务部门"}),
        "escalate": ("routing", "POST", f"{demand}/escalate", "supervisor", {"reason": "久拖未决"}),
        "resolve": ("routing", "POST", f"{demand}/resolve", "supervisor", {"outcome": "resolved", "note": "已办结"}),
        "ask for materials": ("routing", "POST", f"{demand}/request-materials", "supervisor", {"note": "营业执照"}),
        "add an officer": ("routing", "POST", "/api/v1/officers", "admin", OFFICER),
        "edit an officer": ("routing", "PATCH", f"/api/v1/officers/{s.officer_id}", "admin", {"name": "改名"}),
    }


ENDPOINTS = ["log a demand", "transfer", "escalate", "resolve", "ask for materials", "add an officer",
             "edit an officer"]
# (endpoint, the path of a free-text field in its body)
TEXT_FIELDS = [("log a demand", "title"), ("log a demand", "description"), ("log a demand", "enterprise.name"),
               ("log a demand", "enterprise.contact_name"), ("transfer", "reason"), ("escalate", "reason"),
               ("resolve", "note"), ("ask for materials", "note"), ("add an officer", "name"),
               ("edit an officer", "name")]
BAD_TEXT = {"lone surrogate": "ab\ud800cd", "NUL": "ab\x00cd", "control": "ab\x1bcd",
            "bidi override": "invoice \u202egnp.exe", "bidi isolate": "a\u2067b", "zero-width only": "\u200b\u200b",
            "blank filler only": "\u3164 \u3164", "spaces only": "   "}


def send(s: Secured, service: str, method: str, path: str, role: str, data: str | bytes | None = None,
         content_type: str = "application/json", headers: dict[str, str] | None = None) -> Any:
    return s.clients[service].open(path, method=method, data=data, content_type=content_type,
                                   headers={**s.caller(role), **(headers or {})})


def rows(s: Secured) -> tuple[int, int]:
    """Demands in intake and outbox rows in routing: what a refused request must not change."""
    with s.session("intake") as session:
        demands = session.scalar(select(func.count()).select_from(Demand))
    return demands, len(s.outbox("routing"))


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    target = body
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return body


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("shape", ["document", "inside a field"])
def test_deeply_nested_json_is_a_400(secured: Secured, endpoint: str, shape: str) -> None:
    service, method, path, role, body = _bodies(secured)[endpoint]
    deep = "[" * 1000 + "]" * 1000
    raw = deep if shape == "document" else json.dumps(body)[:-1] + f', "extra": {deep}}}'
    before = rows(secured)
    response = send(secured, service, method, path, role, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "nests more than 400" in response.get_json()["message"]
    assert rows(secured) == before


# Every free-text field with every bad text (the materials note is required too: blank is refused there as well).
BAD_TEXT_CASES = [(endpoint, field, bad) for endpoint, field in TEXT_FIELDS for bad in sorted(BAD_TEXT)]


@pytest.mark.parametrize(("endpoint", "field", "bad"), BAD_TEXT_CASES)
def test_bad_text_is_refused_with_its_field(secured: Secured, endpoint: str, field: str, bad: str) -> None:
    service, method, path, role, body = _bodies(secured)[endpoint]
    raw = json.dumps(_set(body, field, BAD_TEXT[bad]))  # ASCII-escaped, as a client would send "\ud800"
    before = rows(secured)
    response = send(secured, service, method, path, role, raw)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["errors"], response.get_json()
    assert rows(secured) == before


@pytest.mark.parametrize("endpoint", ["log a demand", "transfer", "add an officer"])
@pytest.mark.parametrize(("content_type", "status"), [("text/plain", 415), ("application/x-www-form-urlencoded", 415),
                                                      ("application/xml", 415)])
def test_a_body_that_is_not_json_is_a_415(secured: Secured, endpoint: str, content_type: str, status: int) -> None:
    service, method, path, role, body = _bodies(secured)[endpoint]
    response = send(secured, service, method, path, role, json.dumps(body), content_type=content_type)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize("endpoint", ["log a demand", "transfer", "resolve", "add an officer"])
def test_an_empty_body_is_a_400(secured: Secured, endpoint: str) -> None:
    service, method, path, role, _ = _bodies(secured)[endpoint]
    response = send(secured, service, method, path, role, b"")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "empty" in response.get_json()["message"]


def test_an_action_without_fields_takes_an_empty_body(secured: Secured) -> None:
    response = send(secured, "routing", "POST", f"/api/v1/demands/{secured.demand_id}/acknowledge", "supervisor",
                    b"", content_type="")
    assert response.status_code < 500 and response.status_code not in (400, 415), response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", ["log a demand", "transfer", "add an officer", "edit an officer"])
def test_an_oversized_body_is_a_413_before_it_is_parsed(secured: Secured, endpoint: str) -> None:
    service, method, path, role, body = _bodies(secured)[endpoint]
    raw = json.dumps(body)[:-1] + ', "padding": "' + "x" * 10_000_000 + '"}'
    response = send(secured, service, method, path, role, raw)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.get_json()["code"] == "payload_too_large"


@pytest.mark.parametrize(("value", "why"), [("1e400", "too large"), ("1" * 5000, "too large"), ("NaN", "not JSON"),
                                            ("Infinity", "not JSON")])
def test_numbers_json_cannot_hold_are_a_400(secured: Secured, value: str, why: str) -> None:
    raw = json.dumps(demand_body())[:-1] + f', "complexity_score": {value}}}'
    response = send(secured, "intake", "POST", "/api/v1/demands", "grid_worker", raw)
    assert response.status_code == 400 and why in response.get_json()["message"], response.get_data(as_text=True)


def _cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


A_DEMAND_ID = "00000000-0000-4000-8000-000000000000"
OUT_OF_RANGE = [
    ("intake", "/api/v1/demands?cursor=" + _cursor("9999-12-31T23:59:59+00:00", A_DEMAND_ID), "supervisor", "cursor"),
    ("intake", "/api/v1/demands?cursor=" + _cursor("0001-01-01T00:00:00+14:00", A_DEMAND_ID), "supervisor", "cursor"),
    ("intake", "/api/v1/demands?reported_from=0001-01-01T00:00:00%2B14:00", "supervisor", "reported_from"),
    ("intake", "/api/v1/demands?limit=99999999999999999999999", "supervisor", "limit"),
    ("routing", f"/api/v1/streets/{STREET}/queue?offset={2**63}", "supervisor", "offset"),
    ("routing", f"/api/v1/streets/{STREET}/queue?limit=-1", "supervisor", "limit"),
    ("sla", "/api/v1/sla/breaches?from=0001-01-01", "supervisor", "from"),
    ("sla", "/api/v1/sla/breaches?to=9999-12-31", "supervisor", "to"),
    ("sla", "/api/v1/sla/breaches?cursor=" + _cursor("9999-12-31T23:59:59+00:00", "x", "resolution"), "supervisor",
     "cursor"),
    ("sla", "/api/v1/sla/summary?from=0001-01-01", "supervisor", "from"),
    ("sla", "/api/v1/sla/report.csv?month=0000-01", "supervisor", "month"),
    ("sla", "/api/v1/sla/report.csv?month=9999-12", "supervisor", "month"),
]


@pytest.mark.parametrize(("service", "path", "role", "field"), OUT_OF_RANGE)
def test_out_of_range_values_are_a_422_naming_the_field(secured: Secured, service: str, path: str, role: str,
                                                        field: str) -> None:
    response = secured.clients[service].get(path, headers=secured.caller(role))
    assert response.status_code == 422, response.get_data(as_text=True)
    assert field in response.get_json()["errors"], response.get_json()


@pytest.mark.parametrize("key", ["k" * 5000, "ключ-идемпотентности", "has space", "\x00"])
def test_the_grid_page_refuses_an_idempotency_key_the_api_would(secured: Secured, key: str) -> None:
    from tests.e2e.test_pages_server import csrf, form_of, sign_in

    sign_in(secured, "intake", "grid_worker", "grid-wujiaochang-01", STREET)
    client = secured.clients["intake"]
    before = rows(secured)
    response = client.post("/grid/demands", data={**form_of(demand_body(), csrf(client, "/grid")),
                                                  "idempotency_key": key},
                           headers={"Accept": "application/json"})
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert rows(secured) == before


def test_a_database_error_never_carries_the_personal_data_it_was_given(secured: Secured,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    """Engines hide bound parameters: a failed INSERT's exception (which gets logged) names no phone or person."""
    with secured.session("intake") as session:
        existing = session.get(Demand, secured.demand_id)
        copy = {c.key: getattr(existing, c.key) for c in Demand.__table__.columns}
    copy.update(contact_name="泄露测试人", contact_phone="13999998888")
    with caplog.at_level(logging.DEBUG), pytest.raises(IntegrityError) as raised:
        with secured.session("intake") as session:
            session.add(Demand(**copy))  # the same id again: the insert fails
    logging.getLogger("test").exception("insert failed", exc_info=raised.value)
    for secret in ("13999998888", "泄露测试人"):
        assert secret not in str(raised.value) and secret not in caplog.text


def test_answers_with_personal_data_are_not_cached(secured: Secured) -> None:
    response = secured.clients["intake"].get(f"/api/v1/demands/{secured.demand_id}",
                                             headers=secured.caller("supervisor"))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("asked", ["x" * 7000, "a b", "<script>", "ok-\u00e9"])
def test_a_hostile_request_id_is_replaced_not_echoed(secured: Secured, asked: str) -> None:
    response = secured.clients["intake"].get("/healthz", headers={"X-Request-ID": asked})
    given = response.headers["X-Request-ID"]
    assert given != asked and len(given) <= 128


def test_a_plain_request_id_is_kept(secured: Secured) -> None:
    response = secured.clients["intake"].get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert response.headers["X-Request-ID"] == "abc-123.x"


def test_readiness_tells_which_check_failed_not_where_it_looked(secured: Secured,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import shared.webkit.app as webapp

    def broken(_settings: Any) -> None:
        raise ConnectionError("broker kafka-internal.yangpu.local:9092 refused")

    monkeypatch.setattr(webapp, "ping_bus", broken)
    response = secured.clients["sla"].get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == {"bus": "unreachable"}
    assert "yangpu.local" not in response.get_data(as_text=True)


# --- no 5xx, whatever anyone sends ---------------------------------------------------------------------

HOSTILE_BODIES = [
    "[" * 2000 + "]" * 2000,
    json.dumps({"title": "\ud800", "reason": "\ud800", "note": "a\x00", "name": "\u202e", "to_officer": "\ud800",
                "outcome": "\ud800", "satisfaction": "\x00", "capacity": 10**30, "streets": ["\ud800"] * 50}),
    json.dumps(["not", "an", "object"]),
    '"a string"',
    "{\"unterminated\": ",
    b"\xff\xfe\x00garbage",
]
HOSTILE_QUERY = ("?limit=99999999999999999999&offset=-1&cursor=%00%ff&from=0001-01-01&to=9999-12-31&month=0000-00"
                 "&street=%ED%A0%80&status=\u202e&reported_from=0000-01-01T00:00:00Z&kind=%00&lang=%00")
PATH_VALUES = {"street": STREET, "service_code": "taxation", "code": "taxation", "year": 2027}


def _routes(s: Secured) -> list[tuple[str, str, str]]:
    found = []
    for service, client in s.clients.items():
        for rule in client.application.url_map.iter_rules():
            if rule.endpoint.endswith("static") or rule.rule in ("/metrics",):
                continue
            values = {arg: PATH_VALUES.get(arg, s.officer_id if "officer" in arg else s.demand_id)
                      for arg in rule.arguments}
            path = rule.build(values, append_unknown=False)[1] if values else rule.rule
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((service, method, path))
    return found


@pytest.mark.parametrize("role", ["admin", "supervisor"])
def test_no_request_gets_a_server_error(secured: Secured, role: str) -> None:
    """Every route of the three services, API and pages, with hostile bodies and query strings."""
    errors = []
    for service, method, path in _routes(secured):
        client = secured.clients[service]
        client.set_cookie("yangpu_session", session_for(client.application, role, *CALLERS[role]))
        bodies: list[str | bytes | None] = [None] if method == "GET" else HOSTILE_BODIES
        for body in bodies:
            for content_type in ("application/json", "application/x-www-form-urlencoded"):
                response = client.open(path + HOSTILE_QUERY, method=method, data=body, content_type=content_type,
                                        headers={**secured.caller(role), "Accept": "application/json"})
                if response.status_code >= 500:
                    errors.append(f"{method} {service}{path} {content_type} {str(body)[:40]!r}: "
                                  f"{response.status_code} {response.get_data(as_text=True)[:200]}")
        client.delete_cookie("yangpu_session")
    assert errors == [], "\n".join(errors[:20])
