"""POST /api/v1/demands: what is accepted, what is refused, and that a refusal stores and emits nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.helpers import demand_body, enterprise

URL = "/api/v1/demands"


def _refused(intake, body, headers, status):
    """POST ``body``, expect ``status`` and prove nothing was stored or queued for publishing."""
    before = intake.counts()
    resp = intake.client.post(URL, json=body, headers=headers)
    assert resp.status_code == status, resp.get_json()
    assert intake.counts() == before
    assert intake.outbox_events() == []
    return resp.get_json()


def test_a_valid_demand_is_stored_and_its_submitted_event_queued(intake):
    before = intake.counts()
    reported = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    body = demand_body(grid="WJC-03", complexity="complex", reported_at=reported.isoformat())
    resp = intake.client.post(URL, json=body, headers=intake.grid())

    assert resp.status_code == 201, resp.get_json()
    demand = resp.get_json()
    assert resp.headers["Location"].endswith(f"{URL}/{demand['id']}")
    assert demand["status"] == "submitted"
    assert (demand["channel"], demand["street"], demand["grid"], demand["category"], demand["complexity"]) == (
        "grid", "wujiaochang", "WJC-03", "taxation", "complex")
    assert demand["title"] == body["title"] and demand["description"] == body["description"]
    assert demand["enterprise"]["uscc"] == body["enterprise"]["uscc"]
    assert datetime.fromisoformat(demand["reported_at"]) == reported
    assert datetime.fromisoformat(demand["received_at"]) > reported
    assert demand["warnings"] == {}
    assert [t["kind"] for t in demand["timeline"]] == ["submitted"]

    after = intake.counts()
    assert after["demands"] == before["demands"] + 1
    [event] = intake.outbox_events()
    assert event["type"] == "yangpu.demand.submitted.v1"
    assert event["data"]["demand_id"] == demand["id"]
    assert datetime.fromisoformat(event["data"]["reported_at"]) == reported


def test_reported_at_defaults_to_now_and_inputs_are_normalised(intake):
    body = demand_body(title="  发票问题  ")
    body["enterprise"]["uscc"] = f"  {body['enterprise']['uscc'].lower()} "
    body["enterprise"]["contact_phone"] = "+86 021 6543 2100"
    resp = intake.client.post(URL, json=body, headers=intake.grid())
    demand = resp.get_json()
    assert resp.status_code == 201, demand
    assert demand["reported_at"] == demand["received_at"]
    assert demand["title"] == "发票问题"
    assert demand["enterprise"]["uscc"] == body["enterprise"]["uscc"].strip().upper()
    assert demand["enterprise"]["contact_phone"] == "021-****2100"  # the reporter is not the assignee


@pytest.mark.parametrize(("role", "subject", "street", "channel"), [
    ("grid_worker", "grid-wjc-01", "wujiaochang", "grid"),
    ("hotline_agent", "hotline-01", None, "hotline_12345"),
    ("helpdesk_agent", "helpdesk-01", None, "online_helpdesk"),
    ("officer", "com-wujiaochang-1", "wujiaochang", "fallback_window"),
    ("officer", "com-wujiaochang-1", None, "walk_in"),
    ("supervisor", "sup-wujiaochang", "wujiaochang", "fallback_window"),
    ("supervisor", "sup-wujiaochang", "wujiaochang", "walk_in"),
])
def test_each_role_logs_on_its_channels(intake, role, subject, street, channel):
    resp = intake.client.post(URL, json=demand_body(channel=channel), headers=intake.auth(role, subject, street))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["created_by"] == subject


@pytest.mark.parametrize(("role", "subject", "street", "channel"), [
    ("grid_worker", "grid-wjc-01", "wujiaochang", "hotline_12345"),
    ("hotline_agent", "hotline-01", None, "grid"),
    ("hotline_agent", "hotline-01", None, "online_helpdesk"),
    ("helpdesk_agent", "helpdesk-01", None, "hotline_12345"),
    ("officer", "com-wujiaochang-1", "wujiaochang", "grid"),
    ("supervisor", "sup-wujiaochang", "wujiaochang", "hotline_12345"),
    ("admin", "admin-01", None, "walk_in"),
])
def test_a_role_on_another_channel_is_refused(intake, role, subject, street, channel):
    error = _refused(intake, demand_body(channel=channel), intake.auth(role, subject, street), 403)
    assert error["code"] == "forbidden"


def test_a_grid_worker_outside_their_street_is_refused(intake):
    error = _refused(intake, demand_body(street="dinghai"), intake.grid("wujiaochang"), 403)
    assert "own street" in error["message"]


def test_a_bad_uscc_checksum_is_refused_with_the_reason(intake):
    body = demand_body()
    uscc = body["enterprise"]["uscc"]
    body["enterprise"]["uscc"] = uscc[:17] + ("0" if uscc[17] != "0" else "1")
    error = _refused(intake, body, intake.grid(), 422)
    assert error["code"] == "validation_failed"
    assert "checksum" in error["errors"]["enterprise.uscc"][0]


@pytest.mark.parametrize(("field", "value", "path"), [
    ("street", "pudong", "street"),
    ("category", "fishing_licence", "category"),
    ("channel", "wechat", "channel"),
    ("complexity", "hard", "complexity"),
    ("title", "", "title"),
    ("title", "   ", "title"),
    ("title", "标" * 121, "title"),
    ("description", "", "description"),
    ("description", "x" * 5001, "description"),
    ("grid", "has spaces", "grid"),
    ("reported_at", "2025-01-01T08:00:00", "reported_at"),  # no offset
    ("reported_at", "yesterday", "reported_at"),
    ("surprise", 1, "surprise"),
])
def test_invalid_fields_are_refused_by_path(intake, field, value, path):
    body = demand_body()
    body[field] = value
    error = _refused(intake, body, intake.grid(), 422)
    assert list(error["errors"]) == [path]


@pytest.mark.parametrize(("field", "value"), [
    ("contact_phone", "12345"), ("contact_phone", "010-1234"), ("contact_name", ""), ("name", "")])
def test_invalid_enterprise_fields_are_refused_by_path(intake, field, value):
    body = demand_body()
    body["enterprise"][field] = value
    error = _refused(intake, body, intake.grid(), 422)
    assert list(error["errors"]) == [f"enterprise.{field}"]


def test_reported_at_more_than_five_minutes_ahead_is_refused(intake):
    ahead = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    error = _refused(intake, demand_body(reported_at=ahead), intake.grid(), 422)
    assert error["errors"] == {"reported_at": ["must not be more than 5 minutes in the future"]}


def test_reported_at_a_little_ahead_is_tolerated_for_clock_skew(intake):
    ahead = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert intake.client.post(URL, json=demand_body(reported_at=ahead), headers=intake.grid()).status_code == 201


def test_reported_at_more_than_thirty_days_back_is_refused(intake):
    back = (datetime.now(UTC) - timedelta(days=30, minutes=1)).isoformat()
    error = _refused(intake, demand_body(reported_at=back), intake.grid(), 422)
    assert error["errors"] == {"reported_at": ["must not be more than 30 days in the past"]}


def test_every_problem_is_reported_at_once(intake):
    body = demand_body(category="nope", title="", reported_at=(datetime.now(UTC) + timedelta(days=1)).isoformat())
    body["street"] = "pudong"
    body["enterprise"]["contact_phone"] = "999"
    del body["description"]
    error = _refused(intake, body, intake.grid(), 422)
    assert set(error["errors"]) == {"street", "category", "title", "description", "reported_at",
                                    "enterprise.contact_phone"}


def test_missing_enterprise_and_fields_are_named(intake):
    error = _refused(intake, {"channel": "grid"}, intake.grid(), 422)
    assert {"street", "category", "title", "description", "enterprise"} <= set(error["errors"])


def test_malformed_json_is_a_400(intake):
    before = intake.counts()
    resp = intake.client.post(URL, data='{"channel": "grid",', content_type="application/json",
                              headers=intake.grid())
    assert resp.status_code == 400
    assert resp.get_json()["code"] == "malformed_request"
    assert intake.counts() == before


def test_a_json_list_is_refused(intake):
    _refused(intake, [demand_body()], intake.grid(), 422)


def test_without_a_token_it_is_a_401(intake):
    error = _refused(intake, demand_body(), {}, 401)
    assert error["code"] == "unauthorized"


def test_with_a_forged_token_it_is_a_401(intake):
    header = intake.grid()["Authorization"]
    _refused(intake, demand_body(), {"Authorization": header[:-2] + "xx"}, 401)


def test_a_new_enterprise_needs_a_valid_code_even_when_the_name_is_given(intake):
    body = demand_body()
    body["enterprise"] = {"name": "上海新企业有限公司", "uscc": "91310110MA1TEST001", "contact_name": "李",
                          "contact_phone": "13912345678"}
    error = _refused(intake, body, intake.grid(), 422)
    assert "enterprise.uscc" in error["errors"]


def test_key_enterprise_of_another_street_can_be_logged_by_a_hotline_agent(intake):
    ent = enterprise("dinghai", key=True)
    resp = intake.client.post(URL, json=demand_body(street="dinghai", channel="hotline_12345", key=True),
                              headers=intake.auth("hotline_agent", "hotline-01"))
    assert resp.status_code == 201
    assert resp.get_json()["enterprise"]["key_enterprise"] is True
    assert resp.get_json()["enterprise"]["uscc"] == ent["uscc"]

