"""Department clocks (OLA) through the SLA service: routing's events move the holder spans, a redelivery
doubles nothing, and the summary and the monthly CSV give per-department figures.

China's calendar, the shipped policy (every holder: 3 working days = 86,400 business seconds); March 2026 has
no holidays (03-02 is a Monday), one working day is 09:00-17:00 Asia/Shanghai.

====  =====================================================================  ===========================
id    events (wujiaochang)                                                   spans (business seconds)
====  =====================================================================  ===========================
D1    reported Mon 03-02 09:00; assigned com-a 10:00; to spec-tax Tue 09:00;  street 28,800 (from 09:00);
      materials Wed 13:00 .. Mon 03-09 09:00; to spec-commerce Mon 13:00;    tax 57,600; commerce 21,600
      resolved Tue 03-10 11:00
D2    reported Mon 03-02 09:00; assigned com-b 09:00; to spec-tax 13:00;      street 14,400; tax 129,600
      resolved Fri 03-06 17:00                                               (late: over 86,400)
====  =====================================================================  ===========================
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from sla_service.model import HolderSpanRow
from tests.e2e.test_pages_server import sign_in
from tests.sla.conftest import sh

WJC = "wujiaochang"
HOUR = 3600
D1 = "00000000-0000-0000-0000-0000000000d1"
D2 = "00000000-0000-0000-0000-0000000000d2"


def assign(sla, demand_id: str, at, officer: str, kind: str = "street_commissioner", department: str | None = None):
    return sla.act("assigned", demand_id, at, actor_id="routing", officer_id=officer, officer_kind=kind,
                   department=department, rule="category_match", queue="officer")


def transfer(sla, demand_id: str, at, source: str, target: str, department: str | None):
    return sla.act("transferred", demand_id, at, from_officer_id=source, to_officer_id=target,
                   to_department=department, reason="needs the department", to_officer_kind="department_specialist",
                   to_officer_department=department)


def spans(sla, demand_id: str) -> list[HolderSpanRow]:
    with sla.sessions() as session:
        return list(session.scalars(select(HolderSpanRow).where(HolderSpanRow.demand_id == demand_id)
                                    .order_by(HolderSpanRow.seq)))


def resolution(sla, demand_id: str) -> dict:
    body = sla.client.get(f"/api/v1/sla/demands/{demand_id}", headers=sla.auth("admin")).get_json()
    return next(c for c in body["clocks"] if c["kind"] == "resolution")


def observed(department: str) -> float:
    return REGISTRY.get_sample_value("yangpu_sla_holder_business_seconds_count", {"department": department}) or 0.0


@pytest.fixture
def transfers(real_rules, sla) -> None:
    real_rules.set(sh(2026, 3, 2, 9))
    sla.submit(demand_id=D1, reported_at=sh(2026, 3, 2, 9), complexity="difficult")
    sla.submit(demand_id=D2, reported_at=sh(2026, 3, 2, 9), complexity="difficult")
    sla.pump()
    assign(sla, D1, sh(2026, 3, 2, 10), "com-a")
    first = transfer(sla, D1, sh(2026, 3, 3, 9), "com-a", "spec-tax", "tax")
    sla.act("materials_requested", D1, sh(2026, 3, 4, 13), note="营业执照")
    sla.act("materials_received", D1, sh(2026, 3, 9, 9))
    transfer(sla, D1, sh(2026, 3, 9, 13), "spec-tax", "spec-commerce", "commerce")
    sla.act("resolved", D1, sh(2026, 3, 10, 11), outcome="resolved")
    assign(sla, D2, sh(2026, 3, 2, 9), "com-b")
    transfer(sla, D2, sh(2026, 3, 2, 13), "com-b", "spec-tax", "tax")
    sla.act("resolved", D2, sh(2026, 3, 6, 17), outcome="resolved")
    sla.pump()
    sla.republish(first)  # a redelivery (same id): deduplicated
    transfer(sla, D1, sh(2026, 3, 3, 9), "com-a", "spec-tax", "tax")  # the same transfer again, a new id: stale
    assign(sla, D1, sh(2026, 3, 2, 10), "com-a")  # the first assignment again: stale
    real_rules.set(sh(2026, 3, 12, 9))
    sla.pump()


def test_two_transfers_and_a_materials_pause_sum_to_the_resolution_clock(transfers, sla):
    rows = spans(sla, D1)
    assert [(r.seq, r.officer_id, r.department, r.business_seconds_used, r.end_reason) for r in rows] == [
        (1, "com-a", "street", 8 * HOUR, "handed_over"),
        (2, "spec-tax", "tax", 16 * HOUR, "handed_over"),  # Tue, Wed a.m., Mon a.m.: the pause counts for nobody
        (3, "spec-commerce", "commerce", 6 * HOUR, "stopped"),
    ]
    assert rows[0].started_at == sh(2026, 3, 2, 9)  # the first holder's span starts with the clock
    assert rows[1].started_at == rows[0].ended_at == sh(2026, 3, 3, 9)
    assert [r.end_day.isoformat() for r in rows] == ["2026-03-03", "2026-03-09", "2026-03-10"]
    assert all(r.business_seconds_target == 3 * 28_800 for r in rows)
    clock = resolution(sla, D1)
    assert clock["status"] == "met" and clock["business_seconds_used"] == 30 * HOUR
    assert sum(r.business_seconds_used for r in rows) == clock["business_seconds_used"]
    assert [r.business_seconds_used for r in spans(sla, D2)] == [4 * HOUR, 36 * HOUR]


def test_a_return_and_a_reopen_move_the_spans_and_an_escalation_does_not(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    before = observed("street")
    assign(sla, demand, sh(2026, 3, 2, 9), "com-a")
    sla.act("escalated", demand, sh(2026, 3, 2, 10), to_officer_id="sup-wjc", reason="urgent")
    sla.act("returned", demand, sh(2026, 3, 2, 11), from_officer_id="com-a", reason_code="wrong_department",
            returns=1)
    assign(sla, demand, sh(2026, 3, 2, 11), "com-b")  # routing's decision after the return
    sla.act("resolved", demand, sh(2026, 3, 2, 12), outcome="resolved")
    sla.act("reopened", demand, sh(2026, 3, 3, 9))
    sla.act("closed", demand, sh(2026, 3, 3, 10))
    sla.pump()
    rows = spans(sla, demand)
    assert [(r.officer_id, r.business_seconds_used, r.end_reason) for r in rows] == [
        ("com-a", 2 * HOUR, "handed_over"), ("com-b", HOUR, "stopped"), ("com-b", HOUR, "stopped")]
    assert sum(r.business_seconds_used for r in rows) == resolution(sla, demand)["business_seconds_used"] == 4 * HOUR
    assert observed("street") == before + 3  # one observation per ended span, after the commit


def test_an_old_transfer_without_the_targets_kind_counts_under_the_department_asked(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    assign(sla, demand, sh(2026, 3, 2, 9), "com-a")
    sla.act("transferred", demand, sh(2026, 3, 2, 10), from_officer_id="com-a", to_officer_id="spec-tax",
            to_department="tax", reason="old producer")
    sla.act("transferred", demand, sh(2026, 3, 2, 11), from_officer_id="spec-tax", to_officer_id="com-c",
            to_department=None, reason="officer_unavailable")
    sla.act("withdrawn", demand, sh(2026, 3, 2, 12))
    sla.pump()
    assert [(r.department, r.business_seconds_used) for r in spans(sla, demand)] == [
        ("street", HOUR), ("tax", HOUR), ("unknown", HOUR)]


def test_a_demand_timed_before_spans_existed_gives_its_time_so_far_to_the_transfers_former_holder(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    demand = sla.submit(reported_at=sh(2026, 3, 2, 9))  # its assignment came before the upgrade: no span
    sla.pump()
    transfer(sla, demand, sh(2026, 3, 2, 12), "com-a", "spec-tax", "tax")
    sla.act("resolved", demand, sh(2026, 3, 2, 13), outcome="resolved")
    sla.pump()
    assert [(r.officer_id, r.department, r.business_seconds_used) for r in spans(sla, demand)] == [
        ("com-a", "unknown", 3 * HOUR), ("spec-tax", "tax", HOUR)]


@pytest.mark.both_backends
def test_the_summary_gives_median_p90_and_on_time_share_per_department(transfers, sla):
    body = sla.client.get("/api/v1/sla/summary", query_string={"from": "2026-03-01", "to": "2026-03-31"},
                          headers=sla.auth("admin")).get_json()
    figures = {f["department"]: f for f in body["departments"]}
    assert list(figures) == ["commerce", "street", "tax"]
    tax = figures["tax"]
    assert (tax["spans"], tax["with_target"], tax["on_time"], tax["on_time_share"]) == (2, 2, 1, 0.5)
    assert tax["median_business_seconds"] == pytest.approx(93_600)  # (57,600 + 129,600) / 2
    assert tax["p90_business_seconds"] == pytest.approx(57_600 + 0.9 * 72_000)
    assert tax["median_working_days"] == pytest.approx(3.25) and tax["target_business_seconds"] == 86_400
    assert tax["department_name"] != "tax"
    street = figures["street"]
    assert (street["spans"], street["on_time"], street["median_business_seconds"]) == (2, 2, pytest.approx(21_600))
    assert street["p90_business_seconds"] == pytest.approx(14_400 + 0.9 * 14_400)
    assert figures["commerce"]["median_business_seconds"] == pytest.approx(21_600)

    # The days select when spans ended: D1's street span ended 03-03, D2's 03-02.
    day = sla.client.get("/api/v1/sla/summary", query_string={"from": "2026-03-03", "to": "2026-03-03"},
                         headers=sla.auth("admin")).get_json()["departments"]
    assert [(f["department"], f["spans"]) for f in day] == [("street", 1)]
    supervisor = sla.client.get("/api/v1/sla/summary", headers=sla.auth("supervisor", "sup-dh", "dinghai"))
    assert supervisor.status_code == 200 and supervisor.get_json()["departments"] == []
    own = sla.client.get("/api/v1/sla/summary", headers=sla.auth("supervisor", "sup-wjc", WJC)).get_json()
    assert {f["department"]: f["spans"] for f in own["departments"]} == {"commerce": 1, "street": 2, "tax": 2}


def test_the_monthly_csv_by_department(transfers, sla):
    resp = sla.client.get("/api/v1/sla/report.csv", query_string={"month": "2026-03", "by": "department"},
                          headers=sla.auth("admin"))
    assert resp.status_code == 200 and 'filename="sla-departments-2026-03.csv"' in resp.headers["Content-Disposition"]
    rows = {r["department"]: r for r in csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig")))}
    assert (rows["tax"]["scope"], rows["tax"]["spans"], rows["tax"]["median_business_seconds"]) == (
        "district", "2", "93600")
    assert (rows["tax"]["median_working_days"], rows["tax"]["target_working_days"]) == ("3.25", "3")
    assert (rows["tax"]["on_time"], rows["tax"]["with_target"], rows["tax"]["on_time_share"]) == ("1", "2", "0.5000")
    april = sla.client.get("/api/v1/sla/report.csv", query_string={"month": "2026-04", "by": "department"},
                           headers=sla.auth("supervisor", "sup-wjc", WJC))
    assert list(csv.reader(io.StringIO(april.get_data().decode("utf-8-sig"))))[1:] == []
    streets = sla.client.get("/api/v1/sla/report.csv", query_string={"month": "2026-03"}, headers=sla.auth("admin"))
    assert len(list(csv.DictReader(io.StringIO(streets.get_data().decode("utf-8-sig"))))) == 13  # unchanged
    bad = sla.client.get("/api/v1/sla/report.csv", query_string={"month": "2026-03", "by": "officer"},
                         headers=sla.auth("admin"))
    assert bad.status_code == 422 and "by" in str(bad.get_json())


def test_the_page_session_downloads_the_department_csv(transfers, sla):
    client = sla.client
    sign_in(sla, "sla", "supervisor", "sup-wjc", WJC, client=client)
    resp = client.get("/compliance/report.csv?month=2026-03&by=department")
    api = sla.client.get("/api/v1/sla/report.csv", query_string={"month": "2026-03", "by": "department"},
                         headers=sla.auth("supervisor", "sup-wjc", WJC))
    assert resp.status_code == 200 and resp.get_data() == api.get_data()
    rows = list(csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig"))))
    assert {(r["scope"], r["department"], r["spans"]) for r in rows} == {
        (WJC, "commerce", "1"), (WJC, "street", "2"), (WJC, "tax", "2")}
    refused = client.get("/compliance/report.csv?month=2026-03&by=officer&lang=en")
    assert refused.status_code == 422 and "by=department" in refused.get_data(as_text=True)


def test_the_compliance_page_shows_this_months_holding_time_per_department(transfers, sla):
    client = sla.client
    sign_in(sla, "sla", "supervisor", "sup-wjc", WJC, client=client)
    page = client.get("/compliance?lang=en").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-department="(\w+)"><th scope="row">[^<]*</th><td>(\d+)</td>', page))
    assert rows == {"commerce": "1", "street": "2", "tax": "2"}  # the summary's spans, this month (March 2026)
    tax = page[page.index('data-department="tax"'):].split("</tr>")[0]
    # The tax specialist held D1 16 h (2 working days) and D2 36 h (4.5): median 3.25, p90 4.25; 1 of 2 within 3 days.
    assert re.findall(r"<td>([^<]*)</td>", tax) == ["2", "3.2 working days", "4.2 working days", "50%"]
