"""One convention for every instant the suite emits: RFC 3339 in UTC with ``Z`` (shared.instants).

Issue 16 point 6: ``target_at`` in SLA events came out with ``+08:00`` when SLA had just computed it in
Asia/Shanghai and with ``+00:00`` when it was read back from the database. These tests hold the serializer
to its output, then check every instant of the events each service emits and of the JSON API answers.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import Schema, ValidationError

from shared import logs
from shared.contracts import events
from shared.contracts.events import CATALOGUE, EventValidationError, new_event
from shared.instants import Instant, instant_text, parse_instant
from shared.messaging.backends import read_topic
from shared.messaging.codec import from_message, to_message
from tests.helpers import demand_body

SHANGHAI = timezone(timedelta(hours=8))
# Any string an answer holds that starts like a date-time (a calendar day, YYYY-MM-DD, does not).
LOOKS_LIKE_AN_INSTANT = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")


# --- (a) the serializer -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2027, 2, 5, 9, 0, tzinfo=SHANGHAI), "2027-02-05T01:00:00Z"),
    (datetime(2027, 2, 5, 1, 0, tzinfo=UTC), "2027-02-05T01:00:00Z"),
    (datetime(2027, 1, 1, 7, 30, tzinfo=SHANGHAI), "2026-12-31T23:30:00Z"),  # the UTC day may be the day before
    (datetime(2027, 2, 5, 1, 0, 0, 250_000, tzinfo=UTC), "2027-02-05T01:00:00.250000Z"),  # six digits, if any
    (datetime(2027, 2, 5, 1, 0, 0, 1, tzinfo=SHANGHAI), "2027-02-04T17:00:00.000001Z"),
])
def test_an_aware_instant_is_written_in_utc_with_z(value: datetime, text: str) -> None:
    assert instant_text(value) == text
    assert parse_instant(text) == value


def test_a_naive_datetime_is_refused_everywhere_an_instant_leaves() -> None:
    naive = datetime(2027, 2, 5, 9, 0)
    with pytest.raises(ValueError, match="offset"):
        instant_text(naive)
    with pytest.raises(ValueError, match="offset"):
        parse_instant("2027-02-05T09:00:00")
    with pytest.raises(EventValidationError, match="offset"):
        new_event(events.ACKNOWLEDGED, {"demand_id": "d-1", "street": "wujiaochang", "actor_id": "x", "at": naive},
                  source="/test")


class _Moment(Schema):
    at = Instant(required=True)


def test_the_field_loads_any_offset_into_utc_and_dumps_z() -> None:
    loaded = _Moment().load({"at": "2027-02-05T09:00:00+08:00"})["at"]
    assert loaded.utcoffset() == timedelta(0) and loaded == datetime(2027, 2, 5, 1, tzinfo=UTC)
    assert _Moment().load({"at": "2027-02-05T01:00:00Z"})["at"] == loaded
    assert _Moment().dump({"at": datetime(2027, 2, 5, 9, tzinfo=SHANGHAI)}) == {"at": "2027-02-05T01:00:00Z"}
    with pytest.raises(ValidationError) as refused:
        _Moment().load({"at": "2027-02-05T09:00:00"})
    assert "at" in refused.value.messages


def test_the_codec_writes_data_and_the_time_attribute_in_utc() -> None:
    """A clock computed in Asia/Shanghai (how SLA's calendar answers) and an event time given in +08:00."""
    event = new_event(events.CLOCK_UPDATED, {
        "demand_id": "d-1", "street": "wujiaochang", "channel": "grid", "category": "taxation",
        "kind": "resolution", "status": "running", "target_at": datetime(2027, 2, 5, 9, tzinfo=SHANGHAI),
        "business_seconds_used": 0.0, "business_seconds_target": 144_000, "at": datetime(2027, 1, 4, 9, 0, 1,
                                                                                        tzinfo=SHANGHAI),
    }, source="/test")
    event = type(event)(attributes={**event.get_attributes(), "time": datetime(2027, 1, 4, 9, tzinfo=SHANGHAI)},
                        data=event.get_data())
    message = to_message(event)
    assert message.headers["ce_time"] == b"2027-01-04T01:00:00Z"
    data = json.loads(message.value)
    assert (data["target_at"], data["at"]) == ("2027-02-05T01:00:00Z", "2027-01-04T01:00:01Z")
    # Consumers load them back as the same instants, in UTC.
    decoded = from_message(message)
    assert decoded.get_time() == datetime(2027, 1, 4, 1, tzinfo=UTC)
    assert events.load_data(decoded)["target_at"] == datetime(2027, 2, 5, 1, tzinfo=UTC)


def test_a_log_line_carries_its_time_and_logged_instants_in_utc(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        logs.configure("test")
        logging.getLogger("instants").warning("x", extra={"target_at": datetime(2027, 2, 5, 9, tzinfo=SHANGHAI)})
    finally:
        root.handlers[:], root.level = handlers, level
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert RFC3339_UTC.match(line["time"]), line["time"]
    assert line["target_at"] == "2027-02-05T01:00:00Z"


# --- (b) and (c): what the running suite emits ----------------------------------------------------------


def _instant_fields(type_: str) -> list[str]:
    return [name for name, f in CATALOGUE[type_].schema.fields.items() if isinstance(f, Instant)]


def _not_utc_z(value: Any, path: str = "") -> list[str]:
    """Every string in ``value`` that looks like a date-time but is not RFC 3339 UTC with Z, by its path."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _not_utc_z(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _not_utc_z(v, f"{path}[{i}]")]
    if isinstance(value, str) and LOOKS_LIKE_AN_INSTANT.match(value) and not RFC3339_UTC.match(value):
        return [f"{path}={value}"]
    return []


@pytest.fixture
def worked(suite: Any) -> dict[str, Any]:
    """A demand raised at a +08:00 time through intake, assigned by routing, timed by sla, acknowledged by
    its holder who then asks for an extension: every service has announced something about it."""
    grid = suite.auth("grid_worker", "grid-wjc-01", "wujiaochang")
    raised = (datetime.now(UTC) - timedelta(minutes=3)).replace(microsecond=0).astimezone(SHANGHAI)
    resp = suite.clients["intake"].post("/api/v1/demands", headers=grid,
                                        json=demand_body(complexity="complex", reported_at=raised.isoformat()))
    assert resp.status_code == 201, resp.get_json()
    demand_id = resp.get_json()["id"]
    supervisor = suite.auth("supervisor", "sup-wujiaochang", "wujiaochang")

    def assignment() -> dict[str, Any] | None:
        r = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment", headers=supervisor)
        return r.get_json() if r.status_code == 200 and r.get_json()["clocks"] else None

    holder = suite.until(assignment)["officer_id"]
    officer = suite.auth("officer", holder, "wujiaochang")
    for action, body in (("acknowledge", {}), ("request-extension", {"working_days": 1, "reason": "需要会商"})):
        r = suite.clients["routing"].post(f"/api/v1/demands/{demand_id}/{action}", json=body, headers=officer)
        assert r.status_code == 200, r.get_json()
    suite.pump()
    return {"demand_id": demand_id, "raised": raised, "grid": grid, "supervisor": supervisor}


def test_every_event_of_each_service_writes_its_instants_in_utc_with_z(suite: Any, worked: dict[str, Any]) -> None:
    messages = [m for topic in events.TOPICS for m in read_topic(suite.settings, topic)
                if m.key == worked["demand_id"]]
    by_source: dict[str, set[str]] = {}
    checked = 0
    for m in messages:
        type_, source = m.header("ce_type"), m.header("ce_source")
        by_source.setdefault(source, set()).add(type_)
        assert RFC3339_UTC.match(m.header("ce_time")), (type_, m.header("ce_time"))
        data = json.loads(m.value)
        for name in _instant_fields(type_):
            if data.get(name) is not None:
                assert RFC3339_UTC.match(data[name]), (type_, name, data[name])
                checked += 1
        assert _not_utc_z(data) == [], type_
    assert {events.SUBMITTED} <= by_source["/intake"]
    assert {events.ASSIGNED, events.ACKNOWLEDGED, events.EXTENSION_REQUESTED} <= by_source["/routing"]
    assert events.CLOCK_UPDATED in by_source["/sla"]
    updates = [json.loads(m.value) for m in messages if m.header("ce_type") == events.CLOCK_UPDATED]
    assert any(u["target_at"] for u in updates)  # the field of the finding, computed in Asia/Shanghai
    submitted = next(json.loads(m.value) for m in messages if m.header("ce_type") == events.SUBMITTED)
    assert submitted["reported_at"] == instant_text(worked["raised"])  # given in +08:00, emitted in UTC
    assert checked >= len(messages)


def test_json_answers_write_instants_in_utc_with_z(suite: Any, worked: dict[str, Any]) -> None:
    demand_id, supervisor = worked["demand_id"], worked["supervisor"]
    answers = {
        "sla clocks": suite.clients["sla"].get(f"/api/v1/sla/demands/{demand_id}", headers=supervisor),
        "intake demand": suite.clients["intake"].get(f"/api/v1/demands/{demand_id}", headers=worked["grid"]),
        "routing assignment": suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment",
                                                           headers=supervisor),
        "routing street queue": suite.clients["routing"].get("/api/v1/streets/wujiaochang/queue",
                                                             headers=supervisor),
        "intake list": suite.clients["intake"].get("/api/v1/demands", headers=supervisor),
    }
    for name, resp in answers.items():
        assert resp.status_code == 200, (name, resp.get_json())
        assert _not_utc_z(resp.get_json()) == [], name

    clocks = {c["kind"]: c for c in answers["sla clocks"].get_json()["clocks"]}
    resolution = clocks["resolution"]
    assert RFC3339_UTC.match(resolution["started_at"]) and RFC3339_UTC.match(resolution["target_at"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", resolution["deadline"]["date"])  # a calendar day stays a date
    view = answers["intake demand"].get_json()
    assert view["reported_at"] == instant_text(worked["raised"])
    assert all(RFC3339_UTC.match(t["at"]) for t in view["timeline"])
    assignment = answers["routing assignment"].get_json()
    assert RFC3339_UTC.match(assignment["assigned_at"])
    assert RFC3339_UTC.match(assignment["extension_request"]["at"])
    assert all(RFC3339_UTC.match(c["target_at"]) for c in assignment["clocks"] if c["target_at"])
    assert parse_instant(next(c for c in assignment["clocks"] if c["kind"] == "resolution")["target_at"]) \
        == parse_instant(resolution["target_at"])  # routing repeats sla's instant, in the same form


def test_open311_answers_in_utc_with_z(suite: Any, worked: dict[str, Any]) -> None:
    resp = suite.clients["intake"].get(f"/open311/v2/requests/{worked['demand_id']}.json",
                                       headers=worked["supervisor"])
    assert resp.status_code == 200, resp.get_json()
    [request] = resp.get_json()
    assert request["requested_datetime"] == instant_text(worked["raised"])
    assert _not_utc_z(request) == []
