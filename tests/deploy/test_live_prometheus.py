"""A real Prometheus scraping a live run of the suite with traffic.

The suite runs as real processes (gunicorn web + workers, embedded backend) on free ports; Prometheus
(Debian's package) scrapes all six processes every second with our rule files, evaluated every second.
Traffic is sent in two waves, the second after Prometheus has seen the first, so that every counter has
an increase to show (a series' first sample carries no increase). Then every dashboard panel's query and
every recording rule must return data, every alert expression must evaluate, and promtool must find
nothing to fix in any process's /metrics.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack import environments
from devstack.stack import Stack
from shared.auth import issue_token
from shared.calendar import load_calendar
from shared.config import SERVICES, Settings
from shared.contracts.events import DEMAND_EVENTS, new_event
from shared.messaging.backends import make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message
from tests.deploy.support import (
    alert_rules,
    free_port,
    http,
    panel_queries,
    prometheus_config,
    recording_rules,
    require_tool,
    substitute,
    wait_for,
    write_rules_for_fast_evaluation,
)
from tests.helpers import demand_body

# A street whose commissioners are taken off the roster, so its grid demands wait unassigned.
UNSTAFFED_STREET = "changhai"
DEADLINE_S = 30  # for everything to show up once the traffic is in


@dataclass
class Live:
    settings: Settings
    prometheus: str
    metrics_urls: dict[str, str]

    def query(self, expr: str) -> dict[str, Any]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.loads(resp.read())

    def result(self, expr: str) -> list[Any]:
        answer = self.query(expr)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]


# --- traffic -------------------------------------------------------------------------------------------------


def token(settings: Settings, role: str, subject: str, street: str | None = None) -> str:
    return issue_token(role, subject, street, secret=settings.jwt_secret)


def reported_at_for(settings: Settings, business_seconds_ago: float) -> datetime:
    """The instant from which ``business_seconds_ago`` business seconds have elapsed until now (bisection)."""
    calendar = load_calendar(settings.calendar_overrides_path)
    now = datetime.now(UTC)
    lo, hi = now - timedelta(days=25), now  # used(lo) >= wanted >= used(hi) = 0
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if calendar.business_seconds_between(mid, now) > business_seconds_ago:
            lo = mid
        else:
            hi = mid
    return hi


def post_demand(settings: Settings, role: str, subject: str, street: str | None, body: dict[str, Any]) -> str:
    status, answer = http("POST", f"{settings.service_urls['intake']}/api/v1/demands", body,
                          token(settings, role, subject, street))
    assert status == 201, answer
    return answer["id"]


def act(settings: Settings, demand_id: str, street: str, action: str, body: dict[str, Any] | None = None) -> None:
    """An action on a demand as the street's supervisor, once routing has the demand."""
    supervisor = token(settings, "supervisor", f"sup-{street}", street)
    url = f"{settings.service_urls['routing']}/api/v1/demands/{demand_id}"
    deadline = time.monotonic() + 20
    while http("GET", f"{url}/assignment", token=supervisor)[0] != 200:
        assert time.monotonic() < deadline, f"routing never saw demand {demand_id}"
        time.sleep(0.1)
    status, answer = http("POST", f"{url}/{action}", body or {}, supervisor)
    assert status == 200, (action, answer)


def send_traffic(settings: Settings) -> None:
    """One wave: every kind of demand the dashboards show, officer actions, refusals and a dead letter."""
    now = datetime.now(UTC)
    # online help desk, answered at once (first response met, the 1-minute histogram) and resolved
    answered = post_demand(settings, "helpdesk_agent", "helpdesk-01", None,
                           demand_body("wujiaochang", "online_helpdesk"))
    # a key enterprise's hotline demand reported 25 days ago: both of its clocks breach at once
    breached = post_demand(settings, "hotline_agent", "hotline-01", None, demand_body(
        "yinhang", "hotline_12345", key=True, category="financing",
        reported_at=(now - timedelta(days=25)).isoformat()))
    # a grid demand with 90% of its 1-working-day first-response target used: a warning, no breach
    post_demand(settings, "grid_worker", "grid-wujiaochang-01", "wujiaochang", demand_body(
        "wujiaochang", "grid", reported_at=reported_at_for(settings, 0.9 * 8 * 3600).isoformat()))
    # nobody to route to in the unstaffed street: the unassigned queue
    post_demand(settings, "grid_worker", f"grid-{UNSTAFFED_STREET}-01", UNSTAFFED_STREET,
                demand_body(UNSTAFFED_STREET, "grid"))
    act(settings, answered, "wujiaochang", "acknowledge")
    act(settings, answered, "wujiaochang", "resolve", {"outcome": "resolved", "note": "已协调税务专员上门处理"})
    act(settings, answered, "wujiaochang", "close")
    act(settings, breached, "yinhang", "resolve", {"outcome": "unresolvable", "note": "超出职权范围"})
    act(settings, breached, "yinhang", "approve-resolution")  # an unresolvable outcome is always reviewed
    act(settings, breached, "yinhang", "close")
    # refusals: an invalid demand (422) and no token (401)
    intake = settings.service_urls["intake"]
    assert http("POST", f"{intake}/api/v1/demands", {"channel": "grid"},
                token(settings, "grid_worker", "grid-wujiaochang-01", "wujiaochang"))[0] == 422
    assert http("POST", f"{intake}/api/v1/demands", demand_body())[0] == 401
    # a malformed event (valid envelope, invalid data) for the consumers to dead-letter
    envelope = to_message(new_event("yangpu.demand.acknowledged.v1", {
        "demand_id": "dead-letter-probe", "street": "wujiaochang", "actor_id": "test", "at": now}, "tests/deploy"))
    producer = make_producer(settings, "deploy-test")
    try:
        producer.send_batch([OutgoingMessage(DEMAND_EVENTS, "dead-letter-probe", dict(envelope.headers),
                                             b'{"demand_id": 42}')])
    finally:
        producer.close()


# --- the live run --------------------------------------------------------------------------------------------


def unstaffed_roster(path: Path) -> Path:
    roster = yaml.safe_load(Path(Settings.from_env({}).roster_path).read_text(encoding="utf-8"))
    roster["officers"] = [o for o in roster["officers"] if not o["id"].startswith(f"com-{UNSTAFFED_STREET}-")]
    path.write_text(yaml.safe_dump(roster, allow_unicode=True), encoding="utf-8")
    return path


@contextmanager
def live_run(tmp: Path) -> Iterator[Live]:
    """The suite and Prometheus running, both waves of traffic sent; everything stopped on exit."""
    prometheus_bin = require_tool("prometheus")
    web = {s: free_port() for s in SERVICES}
    workers = {s: free_port() for s in SERVICES}
    env = {**environments.embedded(tmp / "var"), "ROSTER_PATH": str(unstaffed_roster(tmp / "roster.yaml"))}
    env.update({f"{s.upper()}_PORT": str(p) for s, p in web.items()})
    env.update({f"{s.upper()}_WORKER_METRICS_PORT": str(p) for s, p in workers.items()})
    stack = Stack(env, log_dir=tmp / "logs")
    stack.seed()
    prom_port = free_port()
    config = prometheus_config(tmp / "prometheus.yml", write_rules_for_fast_evaluation(tmp / "rules"), web, workers)
    prom_log = (tmp / "prometheus.log").open("wb")
    prometheus = None
    try:
        stack.start(timeout_s=60)
        prometheus = subprocess.Popen(
            [prometheus_bin, f"--config.file={config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1h"],
            stdout=prom_log, stderr=subprocess.STDOUT, start_new_session=True)
        run = Live(stack.settings, f"http://127.0.0.1:{prom_port}",
                   {f"{s}-web": f"http://127.0.0.1:{web[s]}/metrics" for s in SERVICES}
                   | {f"{s}-worker": f"http://127.0.0.1:{workers[s]}/metrics" for s in SERVICES})
        wait_for(lambda: len(run.result('up{job=~"yangpu-.*"} == 1')) == 6, 30,
                 "Prometheus to scrape all six processes")
        send_traffic(stack.settings)
        # the second wave only once Prometheus has scraped the first wave's counters
        wait_for(lambda: all(run.result(m) for m in (
            "yangpu_sla_clocks_met_total", "yangpu_sla_clocks_breached_total", "yangpu_sla_warnings_total",
            "yangpu_sla_resolutions_total", "yangpu_dead_letters_total")), 30, "the first wave's counters")
        send_traffic(stack.settings)
        yield run
    finally:
        if prometheus is not None:
            prometheus.send_signal(signal.SIGTERM)
            try:
                prometheus.wait(timeout=15)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait()
        prom_log.close()
        stack.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_run(tmp_path_factory.mktemp("live")) as run:
        yield run


def pending(live: Live, exprs: dict[str, str]) -> dict[str, str]:
    """Keep querying until each expression returns data or the deadline passes; return the empty ones."""
    left = dict(exprs)
    deadline = time.monotonic() + DEADLINE_S
    while left and time.monotonic() < deadline:
        left = {name: expr for name, expr in left.items() if not live.result(expr)}
        if left:
            time.sleep(1)
    return left


def test_every_dashboard_panel_query_returns_data(live: Live):
    queries = {f"{uid}: {title}": substitute(expr) for uid, title, expr in panel_queries()}
    assert len(queries) > 30
    empty = pending(live, queries)
    assert not empty, "panel queries without data:\n" + "\n".join(f"  {k}\n    {v}" for k, v in empty.items())


def test_every_recording_rule_returns_data(live: Live):
    rules = recording_rules()
    assert len(rules) > 30
    empty = pending(live, {name: name for name in rules})
    assert not empty, f"recording rules without data: {sorted(empty)}"


def test_every_alert_expression_evaluates(live: Live):
    """Alerts may rightly be quiet; their expressions must still run against the real series."""
    for rule in alert_rules():
        assert live.query(rule["expr"])["status"] == "success", rule["alert"]


def test_the_key_enterprise_breach_alert_fires(live: Live):
    """The live run breached a key enterprise's demand: the page must go out, naming its street."""
    def alerts() -> list[dict[str, Any]]:
        return [a for a in live.query("ALERTS")["data"]["result"]
                if a["metric"]["alertname"] == "KeyEnterpriseBreach"]

    firing = wait_for(alerts, DEADLINE_S, "the KeyEnterpriseBreach alert")
    assert {a["metric"]["street"] for a in firing} == {"yinhang"}


def test_promtool_finds_nothing_to_fix_in_any_metrics_endpoint(live: Live):
    promtool = require_tool("promtool")
    for name, url in live.metrics_urls.items():
        with urllib.request.urlopen(url, timeout=10) as resp:
            exposition = resp.read()
        result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, timeout=30)
        problems = (result.stdout + result.stderr).decode()
        assert result.returncode == 0 and not problems.strip(), f"{name}: {problems}"
