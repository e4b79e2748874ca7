"""The SLA API: who may read what, the summary's numbers, breaches, the monthly CSV and the scrape-time gauges.

One hand-worked scenario (China's calendar, shipped policy; March 2026 has no holidays), evaluated with
"now" = Thu 2026-03-05 09:00 after the timer ran:

==  ===========  ==========  ================================  ============  ===========  ========
id  street       reported    events                            first resp.   resolution   closed
==  ===========  ==========  ================================  ============  ===========  ========
D1  wujiaochang  03-02 09:00 ack 10:00, resolved 03-03 10:00    met           met          resolved
D2  wujiaochang  03-02 09:00 ack 03-03 10:00 (9 h), explained   breached      met          explained
D3  wujiaochang  03-02 09:00 ack 09:30, resolved, reopened      met           running      no
D4  wujiaochang  03-02 09:00 nothing                            breached      running      no
D5  dinghai      03-02 09:00 closed 12:00, never resolved       met           met          (none)
D6  wujiaochang  03-03 09:00 ack 09:10                          met           running      no
==  ===========  ==========  ================================  ============  ===========  ========
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from sla_service.model import DailyCounts, outbox
from sla_service.repository import rebuild_counts
from tests.sla.conftest import sh

WJC, DH = "wujiaochang", "dinghai"


@pytest.fixture
def scenario(real_rules, sla) -> dict[str, str]:
    real_rules.set(sh(2026, 3, 2, 9))
    ids = {name: sla.submit(demand_id=f"00000000-0000-0000-0000-00000000000{name[1]}", reported_at=sh(2026, 3, 2, 9),
                            street=DH if name == "D5" else WJC)
           for name in ("D1", "D2", "D3", "D4", "D5")}
    ids["D6"] = sla.submit(demand_id="00000000-0000-0000-0000-000000000006", reported_at=sh(2026, 3, 3, 9))
    sla.pump()
    sla.act("acknowledged", ids["D1"], sh(2026, 3, 2, 10))
    sla.act("resolved", ids["D1"], sh(2026, 3, 3, 10), outcome="resolved")
    sla.act("acknowledged", ids["D2"], sh(2026, 3, 3, 10))
    sla.act("resolved", ids["D2"], sh(2026, 3, 4, 10), outcome="explained")
    sla.act("acknowledged", ids["D3"], sh(2026, 3, 2, 9, 30))
    sla.act("resolved", ids["D3"], sh(2026, 3, 3, 10), outcome="resolved")
    sla.act("reopened", ids["D3"], sh(2026, 3, 4, 9))
    sla.act("closed", ids["D5"], sh(2026, 3, 2, 12), street=DH)
    sla.act("acknowledged", ids["D6"], sh(2026, 3, 3, 9, 10))
    real_rules.set(sh(2026, 3, 5, 9))
    sla.pump()
    return ids


def get(sla, path: str, headers: dict[str, str] | None = None, **params: str):
    return sla.client.get(path, query_string=params, headers=headers or sla.auth("admin"))


def rate(num: int, den: int) -> dict:
    value = num / den if den else None
    return {"numerator": num, "denominator": den, "rate": value, "target": 0.9,
            "meets_target": None if value is None else value >= 0.9}


# ------------------------------------------------------------------ summary


def test_summary_counts_and_rates(scenario, sla):
    body = get(sla, "/api/v1/sla/summary", street=WJC, **{"from": "2026-03-02", "to": "2026-03-02"}).get_json()
    assert body["filters"] == {"street": WJC, "channel": None, "category": None, "from": "2026-03-02",
                               "to": "2026-03-02"}
    assert body["demands"] == 4
    assert body["first_response_compliance"] == rate(2, 4)  # D1, D3 met; D2 late; D4 breached unanswered
    assert body["on_time_resolution_rate"] == rate(2, 2)  # D1, D2; D3 (reopened) and D4 still running
    assert body["resolution_rate"] == rate(1, 2)  # D1 resolved, D2 explained

    district = get(sla, "/api/v1/sla/summary").get_json()
    assert district["demands"] == 6
    assert district["first_response_compliance"] == rate(4, 6)
    assert district["on_time_resolution_rate"] == rate(3, 3)
    assert district["resolution_rate"] == rate(1, 3)  # D5, closed without a resolution, counts as closed

    assert get(sla, "/api/v1/sla/summary", channel="online_helpdesk").get_json()["demands"] == 0
    empty = get(sla, "/api/v1/sla/summary", category="financing").get_json()
    assert empty["resolution_rate"] == rate(0, 0)


def test_supervisors_see_their_street_only(scenario, sla):
    supervisor = sla.auth("supervisor", "sup-dinghai", DH)
    own = get(sla, "/api/v1/sla/summary", supervisor).get_json()
    assert own["filters"]["street"] == DH and own["demands"] == 1
    refused = get(sla, "/api/v1/sla/summary", supervisor, street=WJC)
    assert refused.status_code == 403 and refused.get_json()["code"] == "forbidden"
    assert get(sla, "/api/v1/sla/breaches", supervisor).get_json()["items"] == []
    assert get(sla, "/api/v1/sla/breaches", supervisor, street=WJC).status_code == 403
    assert get(sla, f"/api/v1/sla/demands/{scenario['D1']}", supervisor).status_code == 403
    assert get(sla, f"/api/v1/sla/demands/{scenario['D5']}", supervisor).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/sla/summary", "/api/v1/sla/breaches", "/api/v1/sla/report.csv?month=2026-03",
                                  "/api/v1/sla/demands/00000000-0000-0000-0000-000000000001"])
def test_every_endpoint_checks_the_caller(scenario, sla, path):
    assert sla.client.get(path).status_code == 401
    assert sla.client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401
    assert sla.client.get(path, headers=sla.auth("grid_worker", "gw-1", WJC)).status_code == 403
    assert sla.client.get(path, headers=sla.auth("helpdesk_agent", "hd-1")).status_code == 403
    officer = sla.client.get(path, headers=sla.auth("officer", "com-wujiaochang-1", WJC)).status_code
    assert officer == (200 if "/demands/" in path else 403)  # officers read clocks, not the reports
    assert sla.client.get(path, headers=sla.auth("admin")).status_code == 200


def test_demand_clocks_of_an_unknown_demand_is_404(real_rules, sla):
    resp = get(sla, "/api/v1/sla/demands/nope", sla.auth("officer", "com-1"))
    assert resp.status_code == 404 and resp.get_json()["code"] == "not_found"


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/api/v1/sla/summary", {"street": "atlantis"}, "street"),
    ("/api/v1/sla/summary", {"channel": "fax"}, "channel"),
    ("/api/v1/sla/summary", {"category": "nope"}, "category"),
    ("/api/v1/sla/summary", {"from": "2026-03-32"}, "from"),
    ("/api/v1/sla/summary", {"from": "2026-03-05", "to": "2026-03-01"}, "to"),
    ("/api/v1/sla/summary", {"colour": "blue"}, "colour"),
    ("/api/v1/sla/breaches", {"limit": "0"}, "limit"),
    ("/api/v1/sla/breaches", {"kind": "lunch"}, "kind"),
    ("/api/v1/sla/breaches", {"cursor": "garbage"}, "cursor"),
    ("/api/v1/sla/report.csv", {}, "month"),
    ("/api/v1/sla/report.csv", {"month": "2026-13"}, "month"),
])
def test_bad_parameters_are_named_and_change_nothing(real_rules, sla, path, params, field):
    sla.submit(reported_at=sh(2026, 3, 2, 9))
    sla.pump()
    with sla.sessions() as session:
        counts_before = session.scalars(select(DailyCounts).order_by(DailyCounts.day, DailyCounts.street)).all()
        counts_before = [(r.day, r.street, r.demands, r.closed) for r in counts_before]
    resp = get(sla, path, **params)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["code"] == "validation_failed" and field in body["errors"]
    with sla.sessions() as session:
        assert session.scalar(select(func.count()).select_from(outbox)) == 0
        after = session.scalars(select(DailyCounts).order_by(DailyCounts.day, DailyCounts.street)).all()
        assert [(r.day, r.street, r.demands, r.closed) for r in after] == counts_before


# ------------------------------------------------------------------ breaches


def test_breaches_newest_first_a_page_at_a_time(scenario, sla):
    first = get(sla, "/api/v1/sla/breaches", limit="1").get_json()
    assert len(first["items"]) == 1 and first["next_cursor"]
    second = get(sla, "/api/v1/sla/breaches", limit="1", cursor=first["next_cursor"]).get_json()
    assert second["next_cursor"] is None
    items = first["items"] + second["items"]
    assert [(i["demand_id"], i["kind"]) for i in items] == [(scenario["D4"], "first_response"),
                                                           (scenario["D2"], "first_response")]
    d4, d2 = items
    assert datetime.fromisoformat(d4["breached_at"]) == sh(2026, 3, 2, 17)
    assert d4["stopped_at"] is None  # still unanswered
    assert datetime.fromisoformat(d2["stopped_at"]) == sh(2026, 3, 3, 10)
    assert d2["street"] == WJC and d2["channel"] == "grid" and d2["key_enterprise"] is False
    assert get(sla, "/api/v1/sla/breaches", kind="resolution").get_json()["items"] == []
    assert get(sla, "/api/v1/sla/breaches", street=DH).get_json()["items"] == []
    assert len(get(sla, "/api/v1/sla/breaches", **{"from": "2026-03-02", "to": "2026-03-02"}).get_json()["items"]) == 2
    assert get(sla, "/api/v1/sla/breaches", **{"from": "2026-03-03"}).get_json()["items"] == []


# ------------------------------------------------------------------ monthly report


def test_monthly_report_csv_for_the_district_office(scenario, sla):
    resp = get(sla, "/api/v1/sla/report.csv", month="2026-03")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert 'filename="sla-report-2026-03.csv"' in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 13 and rows[-1]["street"] == "total"
    by_street = {r["street"]: r for r in rows}
    wjc = by_street[WJC]
    assert wjc["street_name"] == "五角场街道"
    assert (wjc["demands"], wjc["first_response_met"], wjc["first_response_counted"]) == ("5", "3", "5")
    assert wjc["first_response_compliance"] == "0.6000"
    assert (wjc["closed_resolved"], wjc["closed"], wjc["resolution_rate"]) == ("1", "2", "0.5000")
    assert by_street["changbai"]["demands"] == "0" and by_street["changbai"]["resolution_rate"] == ""
    assert by_street["total"]["demands"] == "6"

    supervisor = get(sla, "/api/v1/sla/report.csv", sla.auth("supervisor", "sup-dh", DH), month="2026-03")
    only = list(csv.DictReader(io.StringIO(supervisor.get_data().decode("utf-8-sig"))))
    assert [r["street"] for r in only] == [DH]
    april = list(csv.DictReader(io.StringIO(get(sla, "/api/v1/sla/report.csv", month="2026-04")
                                            .get_data().decode("utf-8-sig"))))
    assert {r["demands"] for r in april} == {"0"}


# ------------------------------------------------------------------ counts and scrape-time gauges


def test_daily_counts_equal_a_recount(scenario, sla):
    def snapshot(session):
        rows = session.scalars(select(DailyCounts)).all()
        return sorted((r.day, r.street, r.channel, r.category, r.demands, r.first_response_met,
                       r.first_response_breached, r.resolution_met, r.resolution_breached, r.closed,
                       r.closed_resolved) for r in rows)

    session = sla.sessions()
    try:
        maintained = snapshot(session)
        rebuild_counts(session)
        assert snapshot(session) == maintained
    finally:
        session.rollback()
        session.close()


def scraped(sla) -> dict[tuple[str, tuple], float]:
    text = sla.client.get("/metrics").get_data(as_text=True)
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_read_open_clocks_from_the_database(scenario, sla, monkeypatch, tmp_path):
    samples = scraped(sla)
    assert samples[("yangpu_sla_open_clocks", (("kind", "first_response"), ("street", WJC)))] == 1  # D4
    assert samples[("yangpu_sla_open_clocks", (("kind", "resolution"), ("street", WJC)))] == 3  # D3, D4, D6
    assert samples[("yangpu_sla_open_clocks", (("kind", "resolution"), ("street", DH)))] == 0
    oldest = samples[("yangpu_sla_oldest_unanswered_timestamp_seconds", (("street", WJC),))]
    assert oldest == sh(2026, 3, 2, 9).astimezone(UTC).timestamp()  # D4's report
    assert ("yangpu_sla_oldest_unanswered_timestamp_seconds", (("street", DH),)) not in samples

    # Under gunicorn /metrics merges the workers' files; the database gauges are appended to that.
    (tmp_path / "prometheus").mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prometheus"))
    assert scraped(sla)[("yangpu_sla_open_clocks", (("kind", "first_response"), ("street", WJC)))] == 1
