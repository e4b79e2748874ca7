"""The supervisor's pages in-process: the street's work by officer, escalation and breach cards, the figures
in words beside the API's numbers, the drill-down per rate, and Grafana links only when configured.

The pages ask sla and intake over HTTP as the signed-in supervisor; here that call is answered by the other
services' in-process apps with the same user's token, so what the page shows is what the API answers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from routing_service.http import supervisor_pages
from shared.webkit.service_client import ServiceUnavailable
from tests.e2e.test_pages_server import sign_in
from tests.harness import Harness
from tests.helpers import demand_body

STREET = "wujiaochang"
SUPERVISOR = ("supervisor", "sup-wujiaochang", STREET)


@pytest.fixture
def street(suite: Harness, monkeypatch: pytest.MonkeyPatch) -> Harness:
    """The suite with the pages' calls to sla and intake answered in-process, as the supervisor."""

    def call(service: str, path: str, params: dict[str, Any] | None = None, **_: Any) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        response = suite.clients[service].get(path, query_string=query, headers=suite.auth(*SUPERVISOR))
        if response.status_code != 200:
            raise ServiceUnavailable(f"{service} {path}: {response.status_code}", response.status_code)
        return response.get_json()

    monkeypatch.setattr(supervisor_pages, "call_service", call)
    sign_in(suite, "routing", "supervisor", "sup-wujiaochang")
    return suite


def file_demand(suite: Harness, title: str) -> str:
    body = {**demand_body(), "title": title}
    demand_id = suite.clients["intake"].post("/api/v1/demands", json=body,
                                             headers=suite.auth("grid_worker", "gw-1", STREET)).get_json()["id"]
    suite.until(lambda: _assignment(suite, demand_id).get("officer_id"))
    return demand_id


def _assignment(suite: Harness, demand_id: str) -> dict[str, Any]:
    response = suite.clients["routing"].get(f"/api/v1/demands/{demand_id}/assignment",
                                            headers=suite.auth(*SUPERVISOR))
    return response.get_json() if response.status_code == 200 else {}


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_work_by_officer_and_an_escalation_card_with_its_reason(street: Harness) -> None:
    first = file_demand(street, "发票系统无法登录")
    second = file_demand(street, "厂房租赁合同纠纷")
    holder = _assignment(street, first)["officer_id"]
    escalated = street.clients["routing"].post(f"/api/v1/demands/{first}/escalate",
                                                json={"reason": "企业多次来电，需街道协调"},
                                                headers=street.auth("officer", holder, None))
    assert escalated.status_code == 200, escalated.get_data(as_text=True)
    street.pump()
    client = street.clients["routing"]
    page = client.get("/supervisor?lang=en").get_data(as_text=True)
    card = re.search(rf'<li class="card" data-demand-id="{first}" data-card="escalation">(.*?)</li>', page, re.S)
    assert card, page
    words = text_of(card[1])
    assert "发票系统无法登录" in words and "企业多次来电，需街道协调" in words
    enterprise = demand_body()["enterprise"]["name"]
    assert enterprise in words
    assert holder not in words  # the officer's name, not the roster id
    # The work table: one row per holding officer, each count a link to those demands.
    row = re.search(rf'<tr data-officer="{holder}">(.*?)</tr>', page, re.S)
    assert row and 'data-part="open"' in row[1]
    link = re.search(r'href="(/supervisor/officers/[^"]+show=open)"', row[1])[1].replace("&amp;", "&")
    listed = client.get(link).get_data(as_text=True)
    held = {d for d in (first, second) if _assignment(street, d)["officer_id"] == holder}
    assert all(f"/officer/demands/{d}" in listed for d in held)
    assert client.get(f"/supervisor/officers/{holder}?show=everything").status_code == 404


def test_the_figures_say_what_they_count_and_match_the_api(street: Harness) -> None:
    file_demand(street, "发票系统无法登录")
    client = street.clients["routing"]
    page = client.get("/supervisor?lang=en").get_data(as_text=True)
    api = street.clients["sla"].get("/api/v1/sla/summary", headers=street.auth(*SUPERVISOR)).get_json()
    box = re.search(r"data-period=\"all\">(.*?)</dl>", page, re.S)[1]
    first = text_of(re.search(r'data-figure="first_response_compliance"(.*?)</div>', box, re.S)[1])
    fr = api["first_response_compliance"]
    assert f"{fr['numerator']} of {fr['denominator']} answered in time" in first
    assert "first-response deadline has passed" in first
    resolution = text_of(re.search(r'data-figure="resolution_rate"(.*?)</div>', box, re.S)[1])
    assert f"Not counted yet: {api['demands'] - api['resolution_rate']['denominator']} of the {api['demands']}" \
        in resolution
    assert "Compliance details" not in page  # the figures are said once
    assert "/compliance/report.csv?month=" in page
    drill = client.get("/supervisor/rates/first_response_compliance?period=all&lang=en")
    assert drill.status_code == 200 and "First response on time" in drill.get_data(as_text=True)
    assert client.get("/supervisor/rates/happiness").status_code == 404
    assert client.get("/supervisor/rates/resolution_rate?offset=x").status_code == 404


def test_grafana_links_only_when_grafana_is_configured(street: Harness) -> None:
    client = street.clients["routing"]
    assert client.application.extensions["yangpu"]["context"].settings.grafana_url == ""  # the default
    page = client.get("/supervisor?lang=en").get_data(as_text=True)
    assert "/d/yangpu-sla-overview" not in page and "Dashboards" not in page
    assert supervisor_pages.dashboard_links("  ", STREET) == []
    links = supervisor_pages.dashboard_links("https://grafana.example/", STREET)
    assert links[0][0] == "https://grafana.example/d/yangpu-sla-overview?var-street=wujiaochang"
