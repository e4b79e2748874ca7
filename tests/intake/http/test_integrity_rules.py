"""Issue 12, items 7 and 12, in intake: who reads a demand (every possible holder; never by a token's street
claim alone), where officers and supervisors log window demands, and who fixes an enterprise's registered name.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from intake_service import queries
from intake_service.model import Enterprise
from intake_service.reference import load_enterprises
from shared.db import unit_of_work
from shared.validation import uscc_with_check
from tests.helpers import demand_body

URL = "/api/v1/demands"
STREET = "wujiaochang"
SPECIALIST = "spec-market_regulation"  # a department specialist of deploy/roster.yaml (streets: ["*"])


def _log(intake, **overrides) -> str:
    resp = intake.client.post(URL, json=demand_body(**overrides), headers=intake.grid(overrides.get("street", STREET)))
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _status(intake, demand_id: str, role: str, subject: str, street: str | None = None) -> int:
    return intake.client.get(f"{URL}/{demand_id}", headers=intake.auth(role, subject, street)).status_code


def _listed(intake, role: str, subject: str, street: str | None = None) -> list[str]:
    resp = intake.client.get(URL, headers=intake.auth(role, subject, street))
    assert resp.status_code == 200, resp.get_json()
    return [d["id"] for d in resp.get_json()["items"]]


def _event(demand_id: str, **data) -> dict:
    return {"demand_id": demand_id, "street": STREET, "actor_id": "com-wujiaochang-1", **data}


# --- reading: a token's street claim alone widens nothing ----------------------------------------------------


@pytest.mark.both_backends
@pytest.mark.parametrize("subject", [SPECIALIST, "cso-wujiaochang", "not-in-the-roster"])
def test_an_officers_street_claim_does_not_open_the_street(intake, subject):
    demand_id = _log(intake)
    assert _status(intake, demand_id, "officer", subject, STREET) == 403
    assert demand_id not in _listed(intake, "officer", subject, STREET)


def test_a_street_commissioner_reads_the_streets_the_roster_gives_them_whatever_the_token_says(intake):
    demand_id = _log(intake)
    assert _status(intake, demand_id, "officer", "com-wujiaochang-2") == 200  # no street claim needed
    assert demand_id in _listed(intake, "officer", "com-wujiaochang-2")
    assert _status(intake, demand_id, "officer", "com-dinghai-1", STREET) == 403  # a claim the roster denies


def test_every_holder_after_a_transfer_or_an_escalation_reads_the_demand(intake):
    demand_id = _log(intake)
    assert _status(intake, demand_id, "officer", SPECIALIST) == 403
    intake.publish("yangpu.demand.transferred.v1", _event(demand_id, from_officer_id="com-wujiaochang-1",
                                                          to_officer_id=SPECIALIST, to_department="market_regulation",
                                                          reason="需要市场监管专业意见"))
    intake.until(lambda: _status(intake, demand_id, "officer", SPECIALIST) == 200)
    assert demand_id in _listed(intake, "officer", SPECIALIST)
    # the street's supervisor: transfer target and escalation target alike
    intake.publish("yangpu.demand.transferred.v1", _event(demand_id, from_officer_id=SPECIALIST,
                                                          to_officer_id="sup-wujiaochang", to_department=None,
                                                          reason="需要监督协调"))
    intake.publish("yangpu.demand.escalated.v1", _event(demand_id, to_officer_id="sup-wujiaochang", reason="超时",
                                                        automatic=False))
    intake.until(lambda: intake.client.get(f"{URL}/{demand_id}", headers=intake.grid()).get_json()["escalated"])
    assert _status(intake, demand_id, "supervisor", "sup-wujiaochang", STREET) == 200
    assert _status(intake, demand_id, "officer", SPECIALIST) == 403  # no longer theirs


# --- window demands: officers and supervisors in their own streets --------------------------------------------


@pytest.mark.both_backends
@pytest.mark.parametrize("role, subject, claim, street", [
    ("officer", "com-dinghai-1", None, STREET),            # the roster gives them dinghai
    ("officer", "com-dinghai-1", STREET, STREET),          # a token claim the roster does not back
    ("officer", "not-in-the-roster", STREET, STREET),
    ("supervisor", "sup-dinghai", "dinghai", STREET),
])
def test_window_demands_outside_ones_own_streets_are_403_and_store_nothing(intake, role, subject, claim, street):
    before = intake.counts()
    for channel in ("fallback_window", "walk_in"):
        resp = intake.client.post(URL, json=demand_body(street=street, channel=channel),
                                  headers=intake.auth(role, subject, claim))
        assert resp.status_code == 403, resp.get_json()
        assert resp.get_json()["code"] == "forbidden" and street in resp.get_json()["message"]
    assert intake.counts() == before


@pytest.mark.parametrize("role, subject, claim, street", [
    ("officer", "com-dinghai-1", None, "dinghai"),
    ("officer", SPECIALIST, None, "yinhang"),              # a specialist serves every street
    ("supervisor", "sup-dinghai", "dinghai", "dinghai"),
])
def test_window_demands_in_ones_own_streets_are_logged(intake, role, subject, claim, street):
    resp = intake.client.post(URL, json=demand_body(street=street, channel="fallback_window"),
                              headers=intake.auth(role, subject, claim))
    assert resp.status_code == 201, resp.get_json()


# --- the registry: one reporter's typing fixes nobody's name --------------------------------------------------


def _new_enterprise_body(uscc: str, name: str | None) -> dict:
    body = demand_body()
    body["enterprise"] = {"uscc": uscc, "contact_name": "李", "contact_phone": "13912345678",
                          **({"name": name} if name else {})}
    return body


def _registry_name(intake, uscc: str) -> tuple[str, str]:
    with intake.engine.connect() as conn:
        row = conn.execute(select(Enterprise.name, Enterprise.source).where(Enterprise.uscc == uscc)).one()
    return row.name, row.source


@pytest.mark.both_backends
def test_the_first_demand_does_not_fix_an_unknown_enterprises_name_for_everyone(intake):
    uscc = uscc_with_check("91310110MA1T0RT77")
    first = intake.client.post(URL, json=_new_enterprise_body(uscc, "上海错别字有限公司"), headers=intake.grid())
    assert first.status_code == 201 and first.get_json()["warnings"] == {}

    second = intake.client.post(URL, json=_new_enterprise_body(uscc, "上海新江湾科技有限公司"),
                                headers=intake.grid(subject="grid-wjc-02"))
    assert second.status_code == 201
    demand = second.get_json()
    assert demand["enterprise"]["name"] == "上海新江湾科技有限公司"  # kept as typed, not overwritten
    assert list(demand["warnings"]) == ["enterprise.name"]
    assert "上海错别字有限公司" in demand["warnings"]["enterprise.name"][0]
    assert intake.outbox_events()[-1]["data"]["enterprise"]["name"] == "上海新江湾科技有限公司"
    assert _registry_name(intake, uscc) == ("上海错别字有限公司", "intake")  # nor is the registry changed

    unnamed = intake.client.post(URL, json=_new_enterprise_body(uscc, None), headers=intake.grid()).get_json()
    assert unnamed["enterprise"]["name"] == "上海错别字有限公司"
    assert "not confirmed" in unnamed["warnings"]["enterprise.name"][0]


def test_a_registry_import_fixes_the_name_and_a_mismatch_stays_a_warning(intake, tmp_path: Path):
    uscc = uscc_with_check("91310110MA1T0RT78")
    assert intake.client.post(URL, json=_new_enterprise_body(uscc, "上海错别字有限公司"),
                              headers=intake.grid()).status_code == 201
    registry = tmp_path / "enterprises.yaml"
    registry.write_text(yaml.safe_dump({"enterprises": [{"uscc": uscc, "name": "上海新江湾科技有限公司",
                                                         "street": STREET}]}, allow_unicode=True), encoding="utf-8")
    with unit_of_work(intake.ctx.sessions) as session:
        load_enterprises(session, registry)
    assert _registry_name(intake, uscc) == ("上海新江湾科技有限公司", "reference")
    resp = intake.client.post(URL, json=_new_enterprise_body(uscc, "上海错别字有限公司"), headers=intake.grid())
    demand = resp.get_json()
    assert demand["enterprise"]["name"] == "上海新江湾科技有限公司"
    assert "the registry knows this USCC" in demand["warnings"]["enterprise.name"][0]
    assert _registry_name(intake, uscc) == ("上海新江湾科技有限公司", "reference")


def test_the_grid_pages_look_up_offers_registry_names_only(intake):
    uscc = uscc_with_check("91310110MA1T0RT79")
    assert intake.client.post(URL, json=_new_enterprise_body(uscc, "上海未核实名称有限公司"),
                              headers=intake.grid()).status_code == 201
    assert [e.uscc for e in queries.find_enterprises(intake.ctx, "未核实", STREET, 10)] == []
    assert [e.uscc for e in queries.find_enterprises(intake.ctx, uscc[:12], STREET, 10)] == []
