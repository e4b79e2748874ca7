"""The roster: reloading the file over admin edits, and the admin API."""

from __future__ import annotations

import pytest

from routing_service.model import Officer
from routing_service.reference import load_roster
from tests.routing.conftest import OFFICER_1, ROSTER

ALWAYS = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "from": "00:00", "to": "24:00"}
NEW = {"id": "com-wujiaochang-9", "name": "专员丙", "kind": "street_commissioner", "streets": ["wujiaochang"],
       "skills": ["taxation", "employment"], "capacity": 3, "duty": {"days": ["mon"], "from": "09:00", "to": "17:00"}}


def test_reloading_the_file_keeps_admin_edits_and_loads(routing):
    admin = routing.auth("admin", "admin-1")
    assert routing.client.put(f"/api/v1/officers/{OFFICER_1}/capacity", json={"capacity": 9},
                              headers=admin).status_code == 200
    routing.submit()
    with routing.session() as s:
        assert load_roster(s, ROSTER) == 7
    with routing.session() as s:
        edited, untouched = s.get(Officer, OFFICER_1), s.get(Officer, "com-wujiaochang-2")
        assert (edited.capacity, edited.open_count) == (9, 1)
        assert untouched.capacity == 2


# --- admin API -------------------------------------------------------------------------------------


def test_admin_lists_and_reads_officers(routing):
    admin = routing.auth("admin", "admin-1")
    officers = routing.client.get("/api/v1/officers?street=wujiaochang", headers=admin).get_json()
    ids = [o["id"] for o in officers]
    assert "spec-tax-1" in ids and "sup-changbai" not in ids  # specialists serve every street
    tax = routing.client.get("/api/v1/officers?kind=department_specialist&department=tax", headers=admin).get_json()
    assert [o["id"] for o in tax] == ["spec-tax-1", "spec-tax-2"]
    one = routing.client.get(f"/api/v1/officers/{OFFICER_1}", headers=admin).get_json()
    assert (one["capacity"], one["open_count"], one["on_duty"], one["on_shift_now"]) == (2, 0, True, True)
    assert one["duty"] == ALWAYS
    assert routing.client.get("/api/v1/officers/nobody", headers=admin).status_code == 404


@pytest.mark.parametrize("role, street", [("officer", None), ("supervisor", "wujiaochang"), ("grid_worker", "dinghai")])
def test_only_admins_use_the_roster_api(routing, role, street):
    headers = routing.auth(role, "x-1", street)
    assert routing.client.get("/api/v1/officers", headers=headers).status_code == 403
    assert routing.client.post("/api/v1/officers", json=NEW, headers=headers).status_code == 403
    assert routing.client.post(f"/api/v1/officers/{OFFICER_1}/off-duty", headers=headers).status_code == 403
    assert routing.officer(OFFICER_1).on_duty is True


def test_admin_creates_an_officer_who_then_gets_demands(routing):
    admin = routing.auth("admin", "admin-1")
    resp = routing.client.post("/api/v1/officers", json={**NEW, "duty": ALWAYS}, headers=admin)
    assert resp.status_code == 201, resp.get_json()
    assert resp.headers["Location"].endswith(f"/api/v1/officers/{NEW['id']}")
    assert routing.client.post("/api/v1/officers", json=NEW, headers=admin).status_code == 409
    demand_id = routing.submit(category="employment")  # nobody else has the skill
    assert routing.assignment(demand_id).officer_id == NEW["id"]


@pytest.mark.parametrize("change, field", [
    ({"streets": ["wujiaochang", "atlantis"]}, "streets.1"),
    ({"skills": ["astrology"]}, "skills.0"),
    ({"kind": "mayor"}, "kind"),
    ({"department": "weather"}, "department"),
    ({"department": "tax"}, "department"),  # a commissioner has no department
    ({"streets": ["*"]}, "streets"),  # every street: specialists only
    ({"capacity": -1}, "capacity"),
    ({"capacity": "many"}, "capacity"),
    ({"duty": {"days": ["someday"], "from": "09:00", "to": "17:00"}}, "duty.days.0"),
    ({"duty": {"days": ["mon"], "from": "9am", "to": "17:00"}}, "duty.from"),
    ({"duty": {"days": ["mon"], "from": "17:00", "to": "09:00"}}, "duty.to"),
    ({"id": "Bad Id!"}, "id"),
    ({"name": ""}, "name"),
])
def test_creating_with_bad_codes_is_422_with_field_paths(routing, change, field):
    resp = routing.client.post("/api/v1/officers", json={**NEW, **change}, headers=routing.auth("admin", "a"))
    assert resp.status_code == 422, resp.get_json()
    assert field in resp.get_json()["errors"], resp.get_json()
    assert routing.officer(NEW["id"]) is None


def test_specialist_needs_a_department(routing):
    body = {**NEW, "kind": "department_specialist", "streets": ["*"]}
    resp = routing.client.post("/api/v1/officers", json=body, headers=routing.auth("admin", "a"))
    assert resp.status_code == 422 and "department" in resp.get_json()["errors"]


def test_admin_updates_an_officer(routing):
    admin = routing.auth("admin", "admin-1")
    resp = routing.client.patch(f"/api/v1/officers/{OFFICER_1}", json={"skills": ["employment"], "name": "专员甲乙"},
                                headers=admin)
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["skills"], resp.get_json()["capacity"]) == (["employment"], 2)
    assert routing.officer(OFFICER_1).edited_at is not None
    bad = routing.client.patch(f"/api/v1/officers/{OFFICER_1}", json={"kind": "department_specialist"}, headers=admin)
    assert bad.status_code == 422 and "department" in bad.get_json()["errors"]
    assert routing.officer(OFFICER_1).kind == "street_commissioner"
    unknown = routing.client.patch(f"/api/v1/officers/{OFFICER_1}", json={"streets": ["atlantis"]}, headers=admin)
    assert unknown.status_code == 422 and "streets.0" in unknown.get_json()["errors"]


def test_admin_switches_duty_and_capacity(routing):
    admin = routing.auth("admin", "admin-1")
    off = routing.client.post(f"/api/v1/officers/{OFFICER_1}/off-duty", headers=admin).get_json()
    assert off["on_duty"] is False
    assert routing.assignment(routing.submit(category="financing")).state == "unassigned"
    assert routing.client.post(f"/api/v1/officers/{OFFICER_1}/on-duty", headers=admin).get_json()["on_duty"]
    resp = routing.client.put(f"/api/v1/officers/{OFFICER_1}/capacity", json={"capacity": 0}, headers=admin)
    assert resp.status_code == 200 and resp.get_json()["capacity"] == 0
    routing.pump()
    assert routing.officer(OFFICER_1).open_count == 0  # capacity 0: the waiting demand stays waiting
    bad = routing.client.put(f"/api/v1/officers/{OFFICER_1}/capacity", json={"capacity": "lots"}, headers=admin)
    assert bad.status_code == 422 and "capacity" in bad.get_json()["errors"]
    assert routing.client.put("/api/v1/officers/nobody/capacity", json={"capacity": 1},
                              headers=admin).status_code == 404


def test_an_officers_office_phone_is_kept_in_its_canonical_form_and_checked(routing):
    admin = routing.auth("admin", "admin-1")
    changed = routing.client.patch(f"/api/v1/officers/{OFFICER_1}", json={"phone": "(021) 6508-0001"}, headers=admin)
    assert changed.status_code == 200 and changed.get_json()["phone"] == "021-65080001", changed.get_json()
    refused = routing.client.patch(f"/api/v1/officers/{OFFICER_1}", json={"phone": "not a phone"}, headers=admin)
    assert refused.status_code == 422 and "phone" in refused.get_json()["errors"]
    assert routing.client.get(f"/api/v1/officers/{OFFICER_1}", headers=admin).get_json()["phone"] == "021-65080001"
