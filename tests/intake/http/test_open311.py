"""Open311 GeoReport v2: services, filing a request (form-encoded, attributes), reading requests, spec errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.contracts.reference import CATEGORIES
from tests.helpers import enterprise

BASE = "/open311/v2"
HOTLINE = ("hotline_agent", "hotline-01", None)


def _form(**overrides):
    ent = enterprise()
    form = {"service_code": "taxation", "description": "电子发票系统无法登录\n已尝试重置密码。",
            "attribute[street]": "wujiaochang", "attribute[uscc]": ent["uscc"],
            "attribute[enterprise_name]": ent["name"], "attribute[contact_phone]": "13812345678",
            "last_name": "王", "first_name": "经理", "lat": "31.30", "long": "121.51", "jurisdiction_id": "yangpu"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _post(intake, form, caller=HOTLINE, headers=None):
    return intake.client.post(f"{BASE}/requests.json", data=form,
                              headers={**(intake.auth(*caller) if caller else {}), **(headers or {})})


def _assert_spec_errors(resp, status):
    errors = resp.get_json()
    assert resp.status_code == status
    assert isinstance(errors, list) and errors
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in errors)
    return [e["description"] for e in errors]


def test_services_are_the_categories(intake):
    resp = intake.client.get(f"{BASE}/services.json", headers=intake.auth(*HOTLINE))
    assert resp.status_code == 200
    services = resp.get_json()
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    assert all(s["metadata"] is True and s["type"] == "realtime" for s in services)
    assert services[0]["service_name"] == CATEGORIES[services[0]["service_code"]].name_zh


def test_a_service_definition_lists_the_attributes(intake):
    resp = intake.client.get(f"{BASE}/services/taxation.json", headers=intake.auth(*HOTLINE))
    definition = resp.get_json()
    assert definition["service_code"] == "taxation"
    attrs = {a["code"]: a for a in definition["attributes"]}
    assert attrs["uscc"]["required"] and attrs["street"]["required"]
    assert len(attrs["street"]["values"]) == 12
    missing = intake.client.get(f"{BASE}/services/fishing.json", headers=intake.auth(*HOTLINE))
    assert _assert_spec_errors(missing, 404) == ["no service fishing"]


def test_a_request_becomes_a_demand(intake):
    resp = _post(intake, _form())
    assert resp.status_code == 201, resp.get_json()
    [created] = resp.get_json()
    demand_id = created["service_request_id"]
    assert created["service_notice"] is None
    assert resp.headers["Location"].endswith(f"{BASE}/requests/{demand_id}.json")

    demand = intake.client.get(f"/api/v1/demands/{demand_id}", headers=intake.auth(*HOTLINE)).get_json()
    assert (demand["channel"], demand["street"], demand["category"]) == ("hotline_12345", "wujiaochang", "taxation")
    assert demand["title"] == "电子发票系统无法登录"
    assert demand["enterprise"]["contact_name"] == "王经理"
    assert demand["enterprise"]["uscc"] == enterprise()["uscc"]
    [event] = intake.outbox_events()
    assert event["type"] == "yangpu.demand.submitted.v1" and event["data"]["demand_id"] == demand_id


def test_attributes_override_the_defaults(intake):
    reported = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    form = _form(**{"attribute[title]": "发票", "attribute[contact_name]": "李四", "attribute[complexity]": "difficult",
                    "attribute[grid]": "WJC-01", "attribute[reported_at]": reported.isoformat(),
                    "attribute[channel]": "walk_in", "phone": "021-65432100"})
    resp = _post(intake, form, ("officer", "com-wujiaochang-1", "wujiaochang"))
    assert resp.status_code == 201, resp.get_json()
    sup = intake.auth("supervisor", "sup-wujiaochang", "wujiaochang")
    demand = intake.client.get(f"/api/v1/demands/{resp.get_json()[0]['service_request_id']}", headers=sup).get_json()
    assert (demand["title"], demand["complexity"], demand["grid"], demand["channel"]) == (
        "发票", "difficult", "WJC-01", "walk_in")
    assert demand["enterprise"]["contact_name"] == "李四"
    assert demand["enterprise"]["contact_phone"] == "13812345678"  # the attribute wins over `phone`
    assert datetime.fromisoformat(demand["reported_at"]) == reported


def test_the_standard_phone_field_is_used_without_the_attribute(intake):
    resp = _post(intake, _form(**{"attribute[contact_phone]": None, "phone": "+86 138 1234 5678"}))
    assert resp.status_code == 201, resp.get_json()


def test_a_known_uscc_needs_no_name_and_a_wrong_name_is_a_service_notice(intake):
    assert _post(intake, _form(**{"attribute[enterprise_name]": None})).status_code == 201
    resp = _post(intake, _form(**{"attribute[enterprise_name]": "别的公司"}))
    assert resp.status_code == 201
    assert enterprise()["name"] in resp.get_json()[0]["service_notice"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"service_code": "fishing"}, "service_code"),
    ({"attribute[street]": "pudong"}, "attribute[street]"),
    ({"attribute[uscc]": "91310110MA4PFF8Q3X"}, "attribute[uscc]"),
    ({"attribute[contact_phone]": "12345"}, "attribute[contact_phone]"),
    ({"attribute[contact_phone]": None, "phone": "12345"}, "phone"),
    ({"attribute[contact_phone]": None}, "attribute[contact_phone]"),
    ({"last_name": None, "first_name": None}, "attribute[contact_name]"),
    ({"attribute[reported_at]": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}, "attribute[reported_at]"),
    ({"attribute[reported_at]": (datetime.now(UTC) - timedelta(days=31)).isoformat()}, "attribute[reported_at]"),
    ({"attribute[title]": "长" * 121}, "attribute[title]"),
    ({"description": "   "}, "description"),
    ({"description": None}, "description"),
    ({"attribute[uscc]": None}, "attribute[uscc]"),
    ({"attribute[channel]": "grid"}, None),  # a hotline agent on the grid channel: 403, see below
])
def test_invalid_requests_get_spec_errors_and_store_nothing(intake, overrides, field):
    before = intake.counts()
    resp = _post(intake, _form(**overrides))
    if field is None:
        _assert_spec_errors(resp, 403)
    else:
        descriptions = _assert_spec_errors(resp, 400)
        assert [d.split(":")[0] for d in descriptions] == [field], descriptions
    assert intake.counts() == before


def test_a_grid_worker_files_in_their_own_street_only(intake):
    grid = ("grid_worker", "grid-dinghai-01", "dinghai")
    before = intake.counts()
    _assert_spec_errors(_post(intake, _form(), grid), 403)
    assert intake.counts() == before
    form = _form(**{"attribute[street]": "dinghai", "attribute[uscc]": enterprise("dinghai")["uscc"],
                    "attribute[enterprise_name]": None})
    assert _post(intake, form, grid).status_code == 201


def test_authentication(intake):
    before = intake.counts()
    _assert_spec_errors(_post(intake, _form(), caller=None), 401)
    _assert_spec_errors(_post(intake, _form(api_key="not-a-token"), caller=None), 401)
    _assert_spec_errors(_post(intake, _form(), ("admin", "admin-01", None)), 403)
    assert intake.counts() == before
    _assert_spec_errors(intake.client.get(f"{BASE}/services.json"), 401)
    _assert_spec_errors(intake.client.get(f"{BASE}/requests.json"), 401)


def test_the_token_may_travel_as_api_key_on_post_only(intake):
    token = intake.auth(*HOTLINE)["Authorization"].split(" ", 1)[1]
    assert _post(intake, _form(api_key=token), caller=None).status_code == 201
    resp = intake.client.get(f"{BASE}/requests.json", query_string={"api_key": token})
    assert resp.status_code == 401


def test_idempotency_key_works_here_too(intake):
    first = _post(intake, _form(), headers={"Idempotency-Key": "o311-1"})
    again = _post(intake, _form(), headers={"Idempotency-Key": "o311-1"})
    assert first.get_json() == again.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert intake.counts()["demands"] == 1
    _assert_spec_errors(_post(intake, _form(description="另一件事"), headers={"Idempotency-Key": "o311-1"}), 409)


def test_reading_a_request_and_its_status(intake):
    demand_id = _post(intake, _form()).get_json()[0]["service_request_id"]
    url = f"{BASE}/requests/{demand_id}.json"
    [req] = intake.client.get(url, headers=intake.auth(*HOTLINE)).get_json()
    assert req["service_request_id"] == demand_id
    assert (req["status"], req["service_code"], req["address_id"]) == ("open", "taxation", "wujiaochang")
    assert req["service_name"] == CATEGORIES["taxation"].name_zh
    assert req["description"].startswith("电子发票")
    assert "phone" not in req

    intake.publish("yangpu.demand.resolved.v1", {"demand_id": demand_id, "street": "wujiaochang",
                                                 "actor_id": "com-wujiaochang-1", "outcome": "explained"})
    [req] = intake.until(lambda: (r := intake.client.get(url, headers=intake.auth(*HOTLINE)).get_json())
                         and r[0]["status"] == "closed" and r)
    assert req["status_notes"] == "resolved (explained)"

    _assert_spec_errors(intake.client.get(f"{BASE}/requests/nope.json", headers=intake.auth(*HOTLINE)), 404)
    outsider = intake.auth("grid_worker", "grid-dinghai-01", "dinghai")
    _assert_spec_errors(intake.client.get(url, headers=outsider), 403)


def test_listing_requests(intake):
    ids = [_post(intake, _form(service_code=code)).get_json()[0]["service_request_id"]
           for code in ("taxation", "employment", "taxation")]
    intake.publish("yangpu.demand.closed.v1", {"demand_id": ids[0], "street": "wujiaochang", "actor_id": "x"})
    hotline = intake.auth(*HOTLINE)

    def listed(**params):
        resp = intake.client.get(f"{BASE}/requests.json", query_string=params, headers=hotline)
        assert resp.status_code == 200, resp.get_json()
        return [r["service_request_id"] for r in resp.get_json()]

    intake.until(lambda: listed(status="closed") == [ids[0]])
    assert listed() == ids[::-1]
    assert listed(status="open") == [ids[2], ids[1]]
    assert listed(status="open,closed") == ids[::-1]
    assert listed(service_code="employment") == [ids[1]]
    assert listed(service_code="taxation,employment", status="open") == [ids[2], ids[1]]
    assert sorted(listed(service_request_id=f"{ids[0]},{ids[2]},unknown")) == sorted([ids[0], ids[2]])
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(start_date=future) == []
    assert listed(end_date=(datetime.now(UTC) - timedelta(days=1)).isoformat()) == []
    for bad in ({"status": "pending"}, {"service_code": "fishing"}, {"start_date": "yesterday"},
                {"service_request_id": ","}):
        resp = intake.client.get(f"{BASE}/requests.json", query_string=bad, headers=hotline)
        assert _assert_spec_errors(resp, 400)[0].split(":")[0] == next(iter(bad))
    outsider = ("grid_worker", "grid-dinghai-01", "dinghai")
    assert intake.client.get(f"{BASE}/requests.json", headers=intake.auth(*outsider)).get_json() == []
