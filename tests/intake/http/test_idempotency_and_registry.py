"""Idempotency-Key retries and the enterprise registry (known USCCs fill in and cross-check; new ones are added)."""

from __future__ import annotations

from sqlalchemy import select

from intake_service.model import Enterprise
from shared.validation import uscc_with_check
from tests.helpers import demand_body, enterprise

URL = "/api/v1/demands"


def _post(intake, body, headers, key=None):
    return intake.client.post(URL, json=body, headers={**headers, **({"Idempotency-Key": key} if key else {})})


# --- Idempotency-Key --------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_and_body_returns_the_original_and_emits_nothing(intake):
    body = demand_body()
    first = _post(intake, body, intake.grid(), "sync-0001")
    assert first.status_code == 201
    assert first.headers["Idempotent-Replayed"] == "false"
    after_first = intake.counts()

    retry = _post(intake, body, intake.grid(), "sync-0001")
    assert retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.get_json()["id"] == first.get_json()["id"]
    assert retry.headers["Location"] == first.headers["Location"]
    assert intake.counts() == after_first
    assert len(intake.outbox_events()) == 1


def test_a_retry_with_the_same_key_and_another_body_is_a_409_and_changes_nothing(intake):
    assert _post(intake, demand_body(), intake.grid(), "sync-0002").status_code == 201
    before = intake.counts()
    resp = _post(intake, demand_body(title="另一个问题"), intake.grid(), "sync-0002")
    assert resp.status_code == 409
    error = resp.get_json()
    assert error["code"] == "conflict"
    assert "Idempotency-Key" in error["errors"]
    assert intake.counts() == before
    assert len(intake.outbox_events()) == 1


def test_keys_are_scoped_to_the_caller(intake):
    body = demand_body()
    one = _post(intake, body, intake.grid(subject="grid-a"), "k-1")
    two = _post(intake, body, intake.grid(subject="grid-b"), "k-1")
    assert one.status_code == two.status_code == 201
    assert one.get_json()["id"] != two.get_json()["id"]
    assert len(intake.outbox_events()) == 2


def test_without_a_key_the_same_body_twice_is_two_demands(intake):
    body = demand_body()
    assert _post(intake, body, intake.grid()).status_code == 201
    assert _post(intake, body, intake.grid()).status_code == 201
    assert intake.counts()["demands"] == 2


def test_a_refused_request_does_not_use_up_its_key(intake):
    bad = demand_body()
    bad["street"] = "pudong"
    assert _post(intake, bad, intake.grid(), "k-2").status_code == 422
    assert _post(intake, demand_body(), intake.grid(), "k-2").status_code == 201


def test_a_malformed_key_is_refused(intake):
    before = intake.counts()
    resp = _post(intake, demand_body(), intake.grid(), "x" * 201)
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]) == ["Idempotency-Key"]
    assert intake.counts() == before


# --- the enterprise registry ------------------------------------------------------------------------------


def test_a_key_enterprise_carries_its_flag_and_chief_officer_into_the_event(intake):
    ent = enterprise("dinghai", key=True)
    resp = _post(intake, demand_body(street="dinghai", key=True), intake.grid("dinghai"))
    assert resp.status_code == 201
    assert resp.get_json()["enterprise"]["key_enterprise"] is True
    assert resp.get_json()["enterprise"]["chief_officer_id"] == ent["chief_officer"]
    [event] = intake.outbox_events()
    assert event["data"]["enterprise"] == {"uscc": ent["uscc"], "name": ent["name"], "key_enterprise": True,
                                           "chief_officer_id": ent["chief_officer"]}


def test_an_ordinary_enterprise_is_not_flagged(intake):
    assert _post(intake, demand_body(), intake.grid()).status_code == 201
    [event] = intake.outbox_events()
    assert event["data"]["enterprise"]["key_enterprise"] is False
    assert event["data"]["enterprise"]["chief_officer_id"] is None


def test_a_mismatched_name_is_a_warning_and_the_registered_name_is_kept(intake):
    ent = enterprise()
    body = demand_body()
    body["enterprise"]["name"] = "上海创智云"
    resp = _post(intake, body, intake.grid())
    assert resp.status_code == 201
    demand = resp.get_json()
    assert list(demand["warnings"]) == ["enterprise.name"]
    assert ent["name"] in demand["warnings"]["enterprise.name"][0]
    assert demand["enterprise"]["name"] == ent["name"]
    assert intake.outbox_events()[0]["data"]["enterprise"]["name"] == ent["name"]
    # the warning stays with the demand for whoever reads it later
    again = intake.client.get(resp.headers["Location"], headers=intake.grid()).get_json()
    assert again["warnings"] == demand["warnings"]


def test_a_name_differing_only_in_spacing_or_bracket_width_is_no_warning(intake):
    body = demand_body()
    body["enterprise"]["name"] = " " + body["enterprise"]["name"].replace("有限", "有 限") + " "
    assert _post(intake, body, intake.grid()).get_json()["warnings"] == {}


def test_a_known_enterprise_in_another_street_is_a_warning(intake):
    body = demand_body(street="dinghai", channel="hotline_12345")
    body["street"] = "wujiaochang"
    resp = _post(intake, body, intake.auth("hotline_agent", "hotline-01"))
    assert resp.status_code == 201
    assert "dinghai" in resp.get_json()["warnings"]["street"][0]


def test_a_known_uscc_fills_in_the_name(intake):
    ent = enterprise()
    body = demand_body()
    del body["enterprise"]["name"]
    resp = _post(intake, body, intake.grid())
    assert resp.status_code == 201
    assert resp.get_json()["enterprise"]["name"] == ent["name"]
    assert resp.get_json()["warnings"] == {}


def test_an_unknown_uscc_without_a_name_is_refused(intake):
    body = demand_body()
    body["enterprise"] = {"uscc": uscc_with_check("91310110MA1T0RT00"), "contact_name": "李",
                          "contact_phone": "13912345678"}
    before = intake.counts()
    resp = _post(intake, body, intake.grid())
    assert resp.status_code == 422
    assert list(resp.get_json()["errors"]) == ["enterprise.name"]
    assert intake.counts() == before


def test_an_unknown_enterprise_is_added_to_the_registry_and_known_next_time(intake):
    uscc = uscc_with_check("91310110MA1T0RT00")
    body = demand_body()
    body["enterprise"] = {"name": "上海新江湾试点有限公司", "uscc": uscc, "contact_name": "李",
                          "contact_phone": "13912345678"}
    before = intake.counts()
    assert _post(intake, body, intake.grid()).status_code == 201
    assert intake.counts()["enterprises"] == before["enterprises"] + 1
    with intake.engine.connect() as conn:
        row = conn.execute(select(Enterprise).where(Enterprise.uscc == uscc)).one()
    assert (row.name, row.street, row.key_enterprise, row.source) == (
        "上海新江湾试点有限公司", "wujiaochang", False, "intake")

    del body["enterprise"]["name"]
    again = _post(intake, body, intake.grid())
    assert again.status_code == 201
    assert again.get_json()["enterprise"]["name"] == "上海新江湾试点有限公司"
    assert intake.counts()["enterprises"] == before["enterprises"] + 1
