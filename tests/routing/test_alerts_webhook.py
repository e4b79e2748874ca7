"""Alertmanager's webhook (issue 18): who may call it, what it refuses, and that deliveries repeat harmlessly.

Alertmanager resends a firing group every ``repeat_interval`` and retries a failed delivery, so the same
alert (fingerprint + startsAt) arrives many times: it must update one row, never add one. ``resolved`` ends
it for good. Supervisors read their street's alerts, admins every one; the bell counts what a user has not read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from routing_service.model import Alert
from tests.routing.conftest import Routing

WEBHOOK = "/api/v1/alerts/webhook"
STARTS = "2026-11-30T08:00:00.123456789Z"  # Go's nanoseconds, as Alertmanager writes them


def alert(fingerprint: str = "a1b2c3d4e5f60718", street: str | None = "wujiaochang", status: str = "firing",
          name: str = "KeyEnterpriseBreach", starts: str = STARTS, **annotations: str) -> dict[str, Any]:
    labels = {"alertname": name, "severity": "page", "job": "sla", "kind": "resolution", "category": "taxation"}
    if street:
        labels["street"] = street
    return {"status": status, "labels": labels,
            "annotations": {"summary": f"{street}: a key enterprise's demand breached its resolution promise",
                            "description": "A demand of a key enterprise passed its target.",
                            "runbook": "docs/operations.md#keyenterprisebreach", "page": "/supervisor",
                            "demands": "", **annotations},
            "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-30T09:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=x", "fingerprint": fingerprint}


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    return {"version": "4", "groupKey": '{}:{alertname="KeyEnterpriseBreach"}', "truncatedAlerts": 0,
            "status": status, "receiver": "suite-webhook", "groupLabels": {"alertname": "KeyEnterpriseBreach"},
            "commonLabels": {"alertname": "KeyEnterpriseBreach", "severity": "page"}, "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093", "alerts": list(alerts or [alert()])}


def deliver(routing: Routing, body: Any, headers: dict[str, str] | None = None) -> Any:
    return routing.client.post(WEBHOOK, data=body if isinstance(body, str | bytes) else json.dumps(body),
                               content_type="application/json",
                               headers=routing.auth("alertmanager", "alertmanager") if headers is None else headers)


def stored(routing: Routing) -> list[Alert]:
    with routing.session() as s:
        return list(s.scalars(select(Alert).order_by(Alert.id)))


def listed(routing: Routing, headers: dict[str, str], show: str = "active") -> dict[str, Any]:
    response = routing.client.get(f"/api/v1/alerts?show={show}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.both_backends
def test_only_alertmanager_delivers(routing: Routing) -> None:
    assert deliver(routing, payload(), headers={}).status_code == 401
    for role, street in (("admin", None), ("supervisor", "wujiaochang"), ("officer", None), ("grid_worker", "yinhang"),
                         ("hotline_agent", None), ("enterprise", None)):
        refused = deliver(routing, payload(), headers=routing.auth(role, f"{role}-1", street))
        assert refused.status_code == 403, (role, refused.get_json())
    assert stored(routing) == []
    assert routing.client.get("/api/v1/alerts", headers=routing.auth("alertmanager", "alertmanager")).status_code == 403
    assert routing.client.get("/api/v1/alerts", headers=routing.auth("officer", "com-wujiaochang-1")).status_code == 403
    assert routing.client.get("/api/v1/alerts").status_code == 401
    ok = deliver(routing, payload())
    assert ok.status_code == 200 and ok.get_json() == {"alerts": 1}


@pytest.mark.both_backends
def test_the_same_alert_delivered_again_updates_and_resolved_is_final(routing: Routing) -> None:
    for _ in range(3):  # the first delivery, a retry and a repeat
        assert deliver(routing, payload(alert(summary="first words"))).status_code == 200
    assert deliver(routing, payload(alert(summary="newer words"))).status_code == 200
    [one] = stored(routing)
    assert (one.status, one.summary, one.ends_at, one.street) == ("firing", "newer words", None, "wujiaochang")
    assert one.starts_at == datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=UTC)
    first_received = one.received_at

    assert deliver(routing, payload(alert(status="resolved"), status="resolved")).status_code == 200
    late_retry = deliver(routing, payload(alert(summary="a retry of an older firing")))  # arrives after resolved
    assert late_retry.status_code == 200
    [one] = stored(routing)
    assert (one.status, one.ends_at, one.received_at) == ("resolved", datetime(2026, 11, 30, 9, tzinfo=UTC),
                                                          first_received)
    # The same labels firing again later are a new alert (a new startsAt).
    assert deliver(routing, payload(alert(starts="2026-11-30T10:00:00Z"))).status_code == 200
    assert [a.status for a in stored(routing)] == ["resolved", "firing"]


def test_one_delivery_holding_an_alert_twice_stores_it_once(routing: Routing) -> None:
    body = payload(alert(), alert(status="resolved"), alert(summary="firing after resolved in the same batch"))
    assert deliver(routing, body).get_json() == {"alerts": 1}
    assert [a.status for a in stored(routing)] == ["resolved"]


BAD = [
    ("version", lambda p: p.update(version="3")),
    ("version", lambda p: p.pop("version")),
    ("alerts", lambda p: p.update(alerts=[])),
    ("alerts", lambda p: p.update(alerts=[alert(fingerprint=f"{n:016x}") for n in range(1001)])),
    ("alerts.0.fingerprint", lambda p: p["alerts"][0].update(fingerprint="not hex!")),
    ("alerts.0.startsAt", lambda p: p["alerts"][0].update(startsAt="yesterday")),
    ("alerts.0.startsAt", lambda p: p["alerts"][0].update(startsAt="9999-01-01T00:00:00Z")),
    ("alerts.0.status", lambda p: p["alerts"][0].update(status="pending")),
    ("alerts.0.labels.alertname", lambda p: p["alerts"][0]["labels"].pop("alertname")),
    ("alerts.0.labels.street", lambda p: p["alerts"][0]["labels"].update(street="Wu Jiao\u202echang")),
    ("alerts.0.annotations.summary", lambda p: p["alerts"][0]["annotations"].update(summary="a\x00b")),
    ("alerts.0.annotations.summary", lambda p: p["alerts"][0]["annotations"].update(summary="x" * 1001)),
    ("alerts.0.annotations.page", lambda p: p["alerts"][0]["annotations"].update(page="https://evil.example/")),
    ("groupKey", lambda p: p.update(groupKey="\ud800")),
    ("truncatedAlerts", lambda p: p.update(truncatedAlerts=-1)),
    ("unexpected", lambda p: p.update(unexpected=1)),
]


@pytest.mark.parametrize(("field", "spoil"), BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_a_bad_payload_is_a_422_naming_the_field(routing: Routing, field: str, spoil: Any) -> None:
    body = payload()
    spoil(body)
    response = deliver(routing, body)
    assert response.status_code == 422, response.get_data(as_text=True)[:300]
    assert any(key.startswith(field) for key in response.get_json()["errors"]), response.get_json()
    assert stored(routing) == []


@pytest.mark.parametrize("raw", ["", "not json", "[1, 2]", '"a string"', "[" * 1000 + "]" * 1000])
def test_a_body_that_is_not_a_payload_is_a_4xx(routing: Routing, raw: str) -> None:
    assert deliver(routing, raw).status_code in (400, 422)


def test_a_thousand_alerts_fit_and_a_larger_body_is_a_413(routing: Routing) -> None:
    body = payload(*[alert(fingerprint=f"{n:016x}", street=None) for n in range(1000)])
    response = deliver(routing, body)
    assert response.status_code == 200 and response.get_json() == {"alerts": 1000}
    huge = payload(alert(description="x" * 4000))
    huge["padding"] = "y" * (5 * 1024 * 1024)
    assert deliver(routing, huge).status_code == 413


@pytest.mark.both_backends
def test_supervisors_see_their_street_admins_everything_and_the_bell_counts_unread(routing: Routing) -> None:
    deliver(routing, payload(alert("0000000000000001", "wujiaochang"), alert("0000000000000002", "yinhang"),
                             alert("0000000000000003", None, name="ConsumerHalted")))
    mine, admin = routing.supervisor_auth("wujiaochang"), routing.auth("admin", "admin-1")
    seen = listed(routing, mine)
    assert [a["street"] for a in seen["items"]] == ["wujiaochang"] and seen["unread"] == 1
    assert seen["items"][0]["unread"] is True and seen["items"][0]["page"] == "/supervisor"
    assert {a["street"] for a in listed(routing, admin)["items"]} == {"wujiaochang", "yinhang", None}
    assert listed(routing, admin)["unread"] == 3

    read = routing.client.post("/api/v1/alerts/read", json={}, headers=mine)
    assert read.status_code == 200 and read.get_json() == {"unread": 0}
    assert listed(routing, mine)["items"][0]["unread"] is False
    assert listed(routing, admin)["unread"] == 3  # read marks are per user
    # A mark never moves back, and never ahead of now.
    old = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    assert routing.client.post("/api/v1/alerts/read", json={"through": old}, headers=mine).get_json() == {"unread": 0}
    assert routing.client.post("/api/v1/alerts/read", json={"through": "2099-01-01T00:00:00Z"},
                               headers=admin).get_json() == {"unread": 0}
    deliver(routing, payload(alert("0000000000000004", "wujiaochang", name="DemandsUnassigned")))
    assert listed(routing, mine)["unread"] == 1 and listed(routing, admin)["unread"] == 1
    bad = routing.client.post("/api/v1/alerts/read", json={"through": "soon"}, headers=mine)
    assert bad.status_code == 422 and "through" in bad.get_json()["errors"]
    assert routing.client.get("/api/v1/alerts?show=everything", headers=mine).status_code == 422


def test_resolved_alerts_leave_the_active_list_after_a_day(routing: Routing) -> None:
    old = alert("00000000000000aa", status="resolved", starts="2026-01-01T00:00:00Z")
    old["endsAt"] = "2026-01-02T00:00:00Z"
    deliver(routing, payload(old, alert("00000000000000bb")))
    admin = routing.auth("admin", "admin-1")
    assert [a["status"] for a in listed(routing, admin)["items"]] == ["firing"]
    assert [a["status"] for a in listed(routing, admin, "all")["items"]] == ["firing", "resolved"]
    with routing.session() as s:
        assert s.scalar(select(func.count()).select_from(Alert)) == 2


def test_the_alert_endpoints_are_documented(routing: Routing) -> None:
    spec = routing.client.get("/openapi.json").get_json()
    operations = {("post", WEBHOOK): {"200", "400", "401", "403", "413", "415", "422"},
                  ("get", "/api/v1/alerts"): {"200", "401", "403", "422"},
                  ("post", "/api/v1/alerts/read"): {"200", "401", "403", "422"}}
    for (method, path), statuses in operations.items():
        op = spec["paths"][path][method]
        assert statuses <= set(op["responses"]) and op["security"] == [{"bearerAuth": []}] and op["summary"]
    mine = ("Alert", "GroupLabelsIn", "WebhookAlertIn", "ReadIn", "ReadOut")
    undocumented = [f"{name}.{prop}" for name, schema in spec["components"]["schemas"].items()
                    if name.startswith(mine) for prop, field in schema.get("properties", {}).items()
                    if not {"description", "enum", "$ref"} & set(field)]
    assert undocumented == []
