"""The summary's numerators and denominators against hand-counted demands that use every outcome of issue 15.

China's calendar and the shipped policy (grid: first response 1 working day; simple: resolution 5 working
days, warning at 80 %), March 2026 (no holidays). All nine demands are reported Mon 03-02 09:00 in
wujiaochang, so first response is due Mon 17:00 and resolution Fri 03-06 17:00 unless extended. Time moves
in stages, as it would, and the figures are read on Wed 03-11 09:00:

====  =====================================================  ============  ===================  ==========
id    events                                                 first resp.   resolution           counted
====  =====================================================  ============  ===================  ==========
E1    ack Mon 10:00; extended 2 days Wed 03-04 10:00 (due    met           met (extended)       closed,
      Tue 03-10 17:00); resolved Mon 03-09 10:00                                                resolved
E2    ack Mon 10:00; extended 1 day Wed 10:00 (due Mon       met           breached Mon 03-09   open
      03-09 17:00); never resolved                                         17:00 (extended)
E7    ack Mon 10:00; breached Fri 03-06 17:00; extended 5    met           breached (extended,  open
      days Mon 03-09 10:00 (new target Fri 03-13 17:00)                    the breach stays)
E3    ack Mon 10:00; resolved for review Tue 10:00; sent     met           met (12 h used)      closed,
      back Tue 15:00; resolved for review Wed 10:00,                                            resolved
      approved Wed 12:00
M1    ack Mon 10:00; resolved Tue 10:00                      met           met                  resolved
M2    ack Tue 10:00; resolved "explained" Mon 03-09 10:00    breached      breached             explained
E4    never answered (first response breached Mon 17:00);    cancelled     cancelled            withdrawn
      withdrawn Tue 10:00                                    (breach kept)
E5    rejected Mon 11:00                                     cancelled     cancelled            rejected
E6    ack Mon 10:00; merged into E1 Mon 12:00                met           cancelled            merged
====  =====================================================  ============  ===================  ==========

By hand: 6 demands counted (E4, E5, E6 excluded: 1 withdrawn, 1 rejected, 1 merged; 9 reported);
first-response compliance 5 / 6 (M2 late); on-time resolution 3 / 6 (E1, E3, M1 met; E2, E7, M2 breached);
resolution rate 3 / 4 (E1, E3, M1 resolved; M2 explained; E2, E7 still open); extended 3 (E1, E2, E7).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from sqlalchemy import select

from sla_service.model import DailyCounts
from sla_service.repository import rebuild_counts
from tests.e2e.test_pages_server import sign_in
from tests.sla.conftest import sh

WJC = "wujiaochang"
DAY = 28_800
NAMES = ("E1", "E2", "E7", "E3", "M1", "M2", "E4", "E5", "E6")
IDS = {name: f"00000000-0000-0000-0000-0000000001{i:02d}" for i, name in enumerate(NAMES)}
RATES = ("first_response_compliance", "on_time_resolution_rate", "resolution_rate")


def stage(rules, sla, now: datetime, *actions: tuple) -> None:
    """Time reaches ``now``; the actions (name, event, at, extra) happened by then, in order."""
    rules.set(now)
    for name, action, at, extra in actions:
        sla.act(action, IDS[name], at, **extra)
    sla.pump()


@pytest.fixture
def lifecycle(real_rules, sla) -> dict[str, str]:
    reported = sh(2026, 3, 2, 9)
    real_rules.set(reported)
    for name in NAMES:
        sla.submit(demand_id=IDS[name], reported_at=reported)
    sla.pump()
    mon10 = sh(2026, 3, 2, 10)
    stage(real_rules, sla, sh(2026, 3, 2, 12),
          *((name, "acknowledged", mon10, {}) for name in ("E1", "E2", "E7", "E3", "M1", "E6")),
          ("E5", "rejected", sh(2026, 3, 2, 11), {"reason_code": "private_dispute"}),
          ("E6", "merged", sh(2026, 3, 2, 12), {"into": IDS["E1"]}))
    tue10 = sh(2026, 3, 3, 10)
    stage(real_rules, sla, sh(2026, 3, 3, 15),
          ("M2", "acknowledged", tue10, {}),
          ("E4", "withdrawn", tue10, {"reason": "企业已自行解决"}),
          ("E3", "resolved", tue10, {"outcome": "resolved", "review": True}),
          ("M1", "resolved", tue10, {"outcome": "resolved"}),
          ("E3", "sent_back", sh(2026, 3, 3, 15), {"reason": "材料不全"}))
    wed10 = sh(2026, 3, 4, 10)
    stage(real_rules, sla, sh(2026, 3, 4, 12),
          ("E1", "extension_approved", wed10, {"working_days": 2, "business_seconds": 2 * DAY}),
          ("E2", "extension_approved", wed10, {"working_days": 1, "business_seconds": DAY}),
          ("E3", "resolved", wed10, {"outcome": "resolved", "review": True}),
          ("E3", "review_approved", sh(2026, 3, 4, 12), {}))
    mon10 = sh(2026, 3, 9, 10)
    stage(real_rules, sla, mon10,
          ("E7", "extension_approved", mon10, {"working_days": 5, "business_seconds": 5 * DAY}),
          ("E1", "resolved", mon10, {"outcome": "resolved"}),
          ("M2", "resolved", mon10, {"outcome": "explained"}))
    real_rules.set(sh(2026, 3, 11, 9))
    sla.pump()
    return IDS


def get(sla, path: str, **params: str):
    resp = sla.client.get(path, query_string=params, headers=sla.auth("admin"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp


def parts(rate: dict) -> tuple[int, int]:
    return rate["numerator"], rate["denominator"]


def names(items: list[dict]) -> list[str]:
    by_id = {v: k for k, v in IDS.items()}
    return sorted(by_id[i["demand_id"]] for i in items)


def clocks(sla, name: str) -> dict:
    body = get(sla, f"/api/v1/sla/demands/{IDS[name]}").get_json()
    return {"state": body["state"], "extensions": body["extensions"], **{c["kind"]: c for c in body["clocks"]}}


@pytest.mark.both_backends
def test_every_numerator_and_denominator_matches_the_hand_count(lifecycle, sla):
    for params in ({}, {"street": WJC, "from": "2026-03-02", "to": "2026-03-02"}):
        body = get(sla, "/api/v1/sla/summary", **params).get_json()
        assert (body["demands"], body["reported"], body["extended"]) == (6, 9, 3)
        assert (body["withdrawn"], body["rejected"], body["merged"], body["excluded"]) == (1, 1, 1, 3)
        assert "excluded from every rate" in body["excluded_note"]
        assert parts(body["first_response_compliance"]) == (5, 6)
        assert parts(body["on_time_resolution_rate"]) == (3, 6)
        assert parts(body["resolution_rate"]) == (3, 4)

    # The drill-down lists exactly those demands, never an excluded one, and counts the excluded apart.
    expected = {"first_response_compliance": (["E1", "E2", "E3", "E7", "M1"], ["M2"]),
                "on_time_resolution_rate": (["E1", "E3", "M1"], ["E2", "E7", "M2"]),
                "resolution_rate": (["E1", "E3", "M1"], ["M2"])}
    for rate, (met, missed) in expected.items():
        body = get(sla, "/api/v1/sla/demands", rate=rate).get_json()
        assert (body["met"], body["missed"]) == (len(met), len(missed)), rate
        assert (body["withdrawn"], body["rejected"], body["merged"], body["excluded"]) == (1, 1, 1, 3)
        assert "excluded" in body["excluded_note"]
        assert names([i for i in body["items"] if i["counted_as"] == "met"]) == met, rate
        assert names([i for i in body["items"] if i["counted_as"] == "missed"]) == missed, rate

    # Extended and met / breached; a breach before the extension stays, with the new target shown.
    e1, e2, e7 = clocks(sla, "E1"), clocks(sla, "E2"), clocks(sla, "E7")
    assert e1["extensions"] == e2["extensions"] == e7["extensions"] == 1
    r1 = e1["resolution"]
    assert (r1["status"], r1["business_seconds_target"], r1["business_seconds_extended"]) == ("met", 7 * DAY, 2 * DAY)
    r2 = e2["resolution"]
    assert (r2["status"], r2["business_seconds_target"]) == ("breached", 6 * DAY)
    assert datetime.fromisoformat(r2["target_at"]) == sh(2026, 3, 9, 17)
    r7 = e7["resolution"]
    assert (r7["status"], r7["business_seconds_target"], r7["business_seconds_extended"]) == (
        "breached", 10 * DAY, 5 * DAY)
    assert datetime.fromisoformat(r7["target_at"]) == sh(2026, 3, 13, 17)  # the new target is shown
    assert r7["deadline"] == {"date": "2026-03-13", "time": "17:00", "weekday": 5}
    moved = [e for e in sla.events("clock_updated", IDS["E1"], "resolution")
             if e.data["business_seconds_target"] == 7 * DAY]
    assert moved and moved[0].data["target_at"] == sh(2026, 3, 10, 17)  # announced when it moved

    # Reviewed, sent back, resolved: the time in review does not count (Mon 8 h + Tue 1 h + Tue 2 h + Wed 1 h).
    e3 = clocks(sla, "E3")
    assert (e3["state"], e3["resolution"]["status"], e3["resolution"]["business_seconds_used"]) == (
        "resolved", "met", 12 * 3600)  # approved: the resolution stands

    # Withdrawn, rejected, merged: every open clock cancelled; what had stopped keeps its status.
    e4, e5, e6 = clocks(sla, "E4"), clocks(sla, "E5"), clocks(sla, "E6")
    assert (e4["state"], e4["first_response"]["status"], e4["resolution"]["status"]) == (
        "withdrawn", "cancelled", "cancelled")
    assert (e5["state"], e5["first_response"]["status"], e5["resolution"]["status"]) == (
        "rejected", "cancelled", "cancelled")
    assert (e6["state"], e6["first_response"]["status"], e6["resolution"]["status"]) == ("merged", "met", "cancelled")

    # The breach list: E4's breach before its withdrawal stays; no warning or breach fired after a cancel.
    breaches = get(sla, "/api/v1/sla/breaches").get_json()["items"]
    by_id = {v: k for k, v in IDS.items()}
    assert sorted((by_id[b["demand_id"]], b["kind"]) for b in breaches) == [
        ("E2", "resolution"), ("E4", "first_response"), ("E7", "resolution"), ("M2", "first_response"),
        ("M2", "resolution")]
    at = {(by_id[b["demand_id"]], b["kind"]): datetime.fromisoformat(b["breached_at"]) for b in breaches}
    assert at[("E7", "resolution")] == sh(2026, 3, 6, 17) and at[("E2", "resolution")] == sh(2026, 3, 9, 17)
    assert at[("E4", "first_response")] == sh(2026, 3, 2, 17)
    for name in ("E4", "E5", "E6"):
        assert not sla.events("warning", IDS[name], "resolution") and not sla.events("breached", IDS[name],
                                                                                      "resolution")
    assert len(sla.events("warning", IDS["E2"], "resolution")) == 1  # re-timed: Fri 15:24, not Thu 17:00
    assert len(sla.events("breached", IDS["E2"], "resolution")) == 1
    assert len(sla.events("breached", IDS["E7"], "resolution")) == 1  # no second breach after the extension

    # The counts kept with every change are what a recount gives.
    def counts() -> list[tuple]:
        with sla.sessions() as session:
            return [tuple(getattr(r, c.name) for c in DailyCounts.__table__.columns)
                    for r in session.scalars(select(DailyCounts).order_by(DailyCounts.day, DailyCounts.street,
                                                                          DailyCounts.channel))]

    kept = counts()
    with sla.sessions.begin() as session:
        rebuild_counts(session)
    assert counts() == kept


def test_the_report_and_the_compliance_page_count_them_apart(lifecycle, sla):
    resp = get(sla, "/api/v1/sla/report.csv", month="2026-03")
    rows = {r["street"]: r for r in csv.DictReader(io.StringIO(resp.get_data().decode("utf-8-sig")))}
    for street in (WJC, "total"):
        row = rows[street]
        assert (row["demands"], row["extended"], row["withdrawn"], row["rejected"], row["merged"]) == (
            "6", "3", "1", "1", "1")
        assert (row["first_response_met"], row["first_response_counted"]) == ("5", "6")
        assert (row["resolution_on_time"], row["resolution_counted"]) == ("3", "6")
        assert (row["closed_resolved"], row["closed"], row["resolution_rate"]) == ("3", "4", "0.7500")
    assert (rows["dinghai"]["demands"], rows["dinghai"]["withdrawn"]) == ("0", "0")

    client = sla.client
    sign_in(sla, "sla", "supervisor", "sup-wjc", WJC, client=client)
    page = client.get("/compliance?lang=en").get_data(as_text=True)
    assert "Excluded from every rate:" in page
    assert 'data-count="withdrawn">1<' in page and 'data-count="rejected">1<' in page
    assert 'data-count="merged">1<' in page
    assert "3 demands had their resolution deadline extended" in page
    assert "6 demands" in page  # the period's heading counts what the rates count
    page = client.get("/compliance?lang=zh").get_data(as_text=True)
    assert "不计入各项指标" in page and "办结期限已延期" in page
