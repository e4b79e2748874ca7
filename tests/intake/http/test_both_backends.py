"""Intake's hot path and projection on both backends: SQLite + the embedded log, PostgreSQL + Kafka."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import event

from shared.validation import uscc_with_check
from tests.helpers import demand_body, enterprise

pytestmark = pytest.mark.both_backends

URL = "/api/v1/demands"


@contextmanager
def _watch(engine):
    """Record the commits and the SQL statements the engine runs."""
    seen = {"commits": 0, "statements": []}

    def on_commit(_conn):
        seen["commits"] += 1

    def on_execute(_conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            seen["statements"].append(" ".join(statement.split())[:80])

    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_execute)


def test_logging_a_demand_is_one_commit_and_no_needless_reads(intake):
    postgres = intake.engine.dialect.name == "postgresql"
    new = demand_body()
    new["enterprise"].update(uscc=uscc_with_check("91310110MA1T0RT00"), name="上海新企业有限公司")
    for body in (demand_body(key=True), new):
        with _watch(intake.engine) as seen:
            resp = intake.client.post(URL, json=body, headers=intake.grid())
        assert resp.status_code == 201, resp.get_json()
        assert seen["commits"] == 1, seen
        # A known enterprise also costs the likely-duplicate read (by USCC); one met for the first time does not.
        known = body is not new
        if postgres:  # registry look-up-or-add, [duplicates,] demand, outbox; no other plain SELECT
            assert len(seen["statements"]) == 3 + known, seen["statements"]
            selects = [s for s in seen["statements"] if s.upper().startswith("SELECT")]
            assert len(selects) == known and all(s.startswith("SELECT demands.") for s in selects), selects
        else:
            assert len(seen["statements"]) <= 4 + known, seen["statements"]
    assert intake.counts()["demands"] == 2
    assert [e["data"]["enterprise"]["key_enterprise"] for e in intake.outbox_events()] == [True, False]


def test_refusals_and_retries_change_nothing(intake):
    bad = demand_body()
    bad["enterprise"]["uscc"] = bad["enterprise"]["uscc"][:17] + "0"
    before = intake.counts()
    assert intake.client.post(URL, json=bad, headers=intake.grid()).status_code == 422
    assert intake.client.post(URL, json=demand_body(street="dinghai"), headers=intake.grid()).status_code == 403
    assert intake.counts() == before

    headers = {**intake.grid(), "Idempotency-Key": "retry-1"}
    first = intake.client.post(URL, json=demand_body(), headers=headers)
    again = intake.client.post(URL, json=demand_body(), headers=headers)
    other = intake.client.post(URL, json=demand_body(title="别的"), headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 201, 409)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert intake.counts()["demands"] == before["demands"] + 1
    assert len(intake.outbox_events()) == 1


def test_the_submitted_event_leaves_through_the_outbox_and_progress_comes_back(intake):
    ent = enterprise("dinghai", key=True)
    resp = intake.client.post(URL, json=demand_body(street="dinghai", key=True), headers=intake.grid("dinghai"))
    demand_id = resp.get_json()["id"]
    intake.until(lambda: not intake.outbox_events())  # the relay published it

    officer = ent["chief_officer"]
    intake.publish("yangpu.demand.assigned.v1", {
        "demand_id": demand_id, "street": "dinghai", "actor_id": "routing", "officer_id": officer,
        "officer_kind": "chief_service_officer", "department": None, "rule": "key_enterprise", "queue": "officer"})
    intake.publish("yangpu.sla.warning.v1", {
        "demand_id": demand_id, "street": "dinghai", "channel": "grid", "category": "taxation",
        "kind": "first_response", "status": "warning", "business_seconds_used": 3000.0,
        "business_seconds_target": 3600, "key_enterprise": True}, source="/sla")
    intake.publish("yangpu.demand.resolved.v1", {"demand_id": demand_id, "street": "dinghai", "actor_id": officer,
                                                 "outcome": "resolved"})
    chief = intake.auth("officer", officer)

    def resolved():
        view = intake.client.get(f"{URL}/{demand_id}", headers=chief).get_json()
        return view if view["status"] == "resolved" and len(view["timeline"]) == 4 else None

    view = intake.until(resolved)
    assert view["assignee_id"] == officer
    assert view["enterprise"]["contact_phone"] == "13812345678"  # the assignee sees it in clear
    assert view["sla_status"] == "warning"
    assert [t["kind"] for t in view["timeline"]] == ["submitted", "assigned", "sla_warning", "resolved"]

    page = intake.client.get(URL, query_string={"status": "resolved", "limit": 1}, headers=chief).get_json()
    assert [d["id"] for d in page["items"]] == [demand_id] and page["next_cursor"] is None


def test_keyset_pages_on_both_backends(intake):
    hotline = intake.auth("hotline_agent", "hotline-01")
    ids = [intake.client.post(URL, json=demand_body(channel="hotline_12345"), headers=hotline).get_json()["id"]
           for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = intake.client.get(URL, query_string={"limit": 2, **({"cursor": cursor} if cursor else {})},
                                 headers=hotline).get_json()
        seen += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]
