"""The demands behind each rate (``GET /api/v1/sla/demands``) and the monthly CSV for a signed-in page user.

The scenario is ``tests/sla/http/test_api.py``'s (six demands, evaluated on Thu 2026-03-05 09:00): a
drill-down lists exactly what the summary counts, so its ``met`` is the summary's numerator and
``met`` + ``missed`` its denominator, whatever the filters.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest

from tests.e2e.test_pages_server import sign_in
from tests.sla.conftest import sh
from tests.sla.http import test_api

scenario = test_api.scenario  # the same six demands (a fixture)
get = test_api.get
WJC, DH = test_api.WJC, test_api.DH
RATES = ("first_response_compliance", "on_time_resolution_rate", "resolution_rate")


def names(scenario: dict[str, str], items: list[dict]) -> list[str]:
    by_id = {v: k for k, v in scenario.items()}
    return [by_id[i["demand_id"]] for i in items]


@pytest.mark.parametrize("filters", [{}, {"street": WJC, "from": "2026-03-02", "to": "2026-03-02"},
                                     {"street": DH}, {"category": "financing"}])
def test_met_and_missed_are_the_summarys_numerator_and_denominator(scenario, sla, filters):
    summary = get(sla, "/api/v1/sla/summary", **filters).get_json()
    for rate in RATES:
        body = get(sla, "/api/v1/sla/demands", rate=rate, **filters).get_json()
        assert body["met"] == summary[rate]["numerator"], rate
        assert body["met"] + body["missed"] == summary[rate]["denominator"], rate
        assert len(body["items"]) == body["met"] + body["missed"]


def test_each_rate_lists_its_demands_missed_first(scenario, sla):
    first = get(sla, "/api/v1/sla/demands", rate="first_response_compliance").get_json()
    assert names(scenario, first["items"]) == ["D4", "D2", "D6", "D5", "D3", "D1"]  # missed, then newest
    assert [i["counted_as"] for i in first["items"]] == ["missed"] * 2 + ["met"] * 4
    d4 = first["items"][0]
    assert datetime.fromisoformat(d4["deadline_passed_at"]) == sh(2026, 3, 2, 17)  # the deadline it missed
    assert d4["ended_at"] is None and d4["street"] == WJC  # still unanswered
    assert first["items"][-1]["deadline_passed_at"] is None

    on_time = get(sla, "/api/v1/sla/demands", rate="on_time_resolution_rate").get_json()
    assert (on_time["met"], on_time["missed"]) == (3, 0)  # D3 (reopened) and D4, D6 still running: not counted
    assert sorted(names(scenario, on_time["items"])) == ["D1", "D2", "D5"]

    resolution = get(sla, "/api/v1/sla/demands", rate="resolution_rate").get_json()
    assert names(scenario, resolution["items"]) == ["D5", "D2", "D1"]  # closed: explained / none, then resolved
    assert [i["resolution_outcome"] for i in resolution["items"]] == [None, "explained", "resolved"]
    assert [i["counted_as"] for i in resolution["items"]] == ["missed", "missed", "met"]

    missed = get(sla, "/api/v1/sla/demands", rate="resolution_rate", outcome="missed").get_json()
    assert names(scenario, missed["items"]) == ["D5", "D2"] and missed["next_offset"] is None
    met = get(sla, "/api/v1/sla/demands", rate="resolution_rate", outcome="met").get_json()
    assert names(scenario, met["items"]) == ["D1"] and (met["met"], met["missed"]) == (1, 2)


def test_a_page_at_a_time(scenario, sla):
    seen, offset = [], 0
    while offset is not None:
        body = get(sla, "/api/v1/sla/demands", rate="first_response_compliance", limit="4",
                   offset=str(offset)).get_json()
        seen += names(scenario, body["items"])
        offset = body["next_offset"]
    assert seen == ["D4", "D2", "D6", "D5", "D3", "D1"]


def test_a_supervisor_drills_into_their_own_street_only(scenario, sla):
    supervisor = sla.auth("supervisor", "sup-dinghai", DH)
    own = get(sla, "/api/v1/sla/demands", supervisor, rate="first_response_compliance").get_json()
    assert own["filters"]["street"] == DH and names(scenario, own["items"]) == ["D5"]
    refused = get(sla, "/api/v1/sla/demands", supervisor, rate="resolution_rate", street=WJC)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    path = "/api/v1/sla/demands?rate=resolution_rate"
    assert sla.client.get(path).status_code == 401
    for role, street in (("officer", None), ("grid_worker", WJC), ("helpdesk_agent", None)):
        assert sla.client.get(path, headers=sla.auth(role, "x", street)).status_code == 403


@pytest.mark.parametrize(("params", "field"), [
    ({}, "rate"), ({"rate": "happiness"}, "rate"), ({"rate": "resolution_rate", "outcome": "late"}, "outcome"),
    ({"rate": "resolution_rate", "limit": "0"}, "limit"), ({"rate": "resolution_rate", "limit": "201"}, "limit"),
    ({"rate": "resolution_rate", "offset": "-1"}, "offset"), ({"rate": "resolution_rate", "street": "x"}, "street"),
    ({"rate": "resolution_rate", "from": "2026-03-05", "to": "2026-03-01"}, "to"),
])
def test_bad_arguments_are_named(real_rules, sla, params, field):
    resp = get(sla, "/api/v1/sla/demands", **params)
    assert resp.status_code == 422 and field in resp.get_json()["errors"]


def test_the_drilldown_is_documented(real_rules, sla):
    spec = sla.client.get("/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/sla/demands"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"rate", "outcome", "from", "to", "street", "limit",
                                                            "offset"}


def test_the_monthly_csv_downloads_with_the_page_session(scenario, sla):
    client = sla.client
    assert client.get("/compliance/report.csv?month=2026-03").status_code == 302  # to the sign-in page
    sign_in(sla, "sla", "supervisor", "sup-dh", DH, client=client)
    resp = client.get("/compliance/report.csv?month=2026-03")
    assert resp.status_code == 200 and 'filename="sla-report-2026-03.csv"' in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    api = get(sla, "/api/v1/sla/report.csv", sla.auth("supervisor", "sup-dh", DH), month="2026-03")
    assert resp.get_data() == api.get_data() and [r["street"] for r in rows] == [DH]
    assert client.get("/compliance/report.csv?month=2026-13").status_code == 422
    page = client.get("/compliance?lang=en").get_data(as_text=True)
    assert "/supervisor/rates/resolution_rate?period=month" in page and "/compliance/report.csv?month=" in page
    assert "finished demands ended" in page  # the rates in words here too
