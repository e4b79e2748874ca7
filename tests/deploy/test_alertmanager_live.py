"""The whole alert chain, live: a real breach -> the rule fires in a real Prometheus -> a real Alertmanager
(configured by shared/alerting.py from the identity store's accounts) -> e-mail to the street's supervisor
through a real SMTP server (aiosmtpd), and -> routing's webhook, where the supervisor's alert list shows it.

The suite runs as real processes on the embedded default (devstack's Stack, free ports). A key enterprise's
demand in yinhang reported 25 days ago breaches both its clocks at once; KeyEnterpriseBreach fires on an
increase of the breach counter, and the first breach after a process start only makes the counter's series
(a fresh Prometheus has no `up offset 10m` to prove it new), so the breach is made twice: once to create the
series, once more after Prometheus has scraped it. An ordinary enterprise's breach in wujiaochang each time
must mail nobody. Alertmanager waits 1 s to group (30 s in production); its other intervals are production's.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from devstack import environments
from devstack.stack import Stack
from shared import alerting
from shared.accounts import Accounts
from shared.auth import issue_token
from shared.auth_store import ensure_schema, open_engine
from shared.config import SERVICES, Settings
from tests.deploy.support import (
    free_port,
    http,
    prometheus_config,
    require_tool,
    wait_for,
    write_rules_for_fast_evaluation,
)
from tests.helpers import demand_body

BREACH_STREET, QUIET_STREET = "yinhang", "wujiaochang"
SUPERVISOR = {BREACH_STREET: "zhao.min@yinhang.example.cn", QUIET_STREET: "qian.li@wujiaochang.example.cn"}
FORMER_SUPERVISOR = "former@yinhang.example.cn"  # a disabled account: never mailed
ADMIN = "admin@district.example.cn"
CHAIN_S = 90  # the bound on starting everything and making both breaches


@dataclass
class Mail:
    recipients: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """aiosmtpd's handler: every mail delivered, as Alertmanager sent it."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.mails.append(Mail(list(envelope.rcpt_tos), message))
        return "250 OK"


@dataclass
class Chain:
    settings: Settings
    prometheus: str
    inbox: Inbox

    def query(self, expr: str) -> list[dict[str, Any]]:
        status, answer = http("GET", f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert status == 200, answer
        return answer["data"]["result"]


def make_accounts(settings: Settings) -> None:
    engine = open_engine(settings.auth_database_url)
    try:
        ensure_schema(engine)
        accounts = Accounts(engine)
        for street, address in SUPERVISOR.items():
            accounts.create(f"sup.{street}", "supervisor", address, street)
        accounts.create("sup.former", "supervisor", FORMER_SUPERVISOR, BREACH_STREET)
        accounts.disable("sup.former")
        accounts.create("admin.district", "admin", ADMIN)
    finally:
        engine.dispose()


def alertmanager_config(settings: Settings, out: Path, smtp_port: int) -> Path:
    """What `python -m shared.alerting config` writes for these accounts, grouping after 1 s instead of 30."""
    token = out / "alertmanager.token"
    out.mkdir(parents=True, exist_ok=True)
    token.write_text(issue_token("alertmanager", "alertmanager", None, secret=settings.jwt_secret), encoding="utf-8")
    config = alerting.build_config(
        alerting.recipients(alerting.stored_accounts(settings)),
        alerting.Smtp(f"127.0.0.1:{smtp_port}", "alerts@yangpu.example.cn", require_tls=False),
        webhook_url=settings.internal_urls["routing"] + alerting.WEBHOOK_PATH,
        webhook_token_file=str(token), templates_dir=str(out / "templates"))
    config["route"]["group_wait"] = "1s"
    return alerting.write(out, config, settings.service_urls)[0]


@contextmanager
def process(argv: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop())
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


def breach(settings: Settings) -> None:
    """A key enterprise's demand in the breach street and an ordinary one in the quiet street, both reported
    25 days ago: every clock of both breaches at once."""
    reported = (datetime.now(UTC) - timedelta(days=25)).isoformat()
    for street, key in ((BREACH_STREET, True), (QUIET_STREET, False)):
        status, answer = http("POST", f"{settings.service_urls['intake']}/api/v1/demands",
                              demand_body(street, "hotline_12345", key=key, category="financing", reported_at=reported),
                              issue_token("hotline_agent", "hotline-01", None, secret=settings.jwt_secret))
        assert status == 201, answer


@contextmanager
def live_chain(tmp: Path) -> Iterator[Chain]:
    prometheus_bin, alertmanager_bin = require_tool("prometheus"), require_tool("alertmanager")
    web = {s: free_port() for s in SERVICES}
    workers = {s: free_port() for s in SERVICES}
    env = environments.embedded(tmp / "var")
    env.update({f"{s.upper()}_PORT": str(p) for s, p in web.items()})
    env.update({f"{s.upper()}_WORKER_METRICS_PORT": str(p) for s, p in workers.items()})
    stack = Stack(env, log_dir=tmp / "logs")
    stack.seed()
    settings = stack.settings
    make_accounts(settings)
    smtp_port, am_port, prom_port = free_port(), free_port(), free_port()
    am_config = alertmanager_config(settings, tmp / "alertmanager", smtp_port)
    prom_config = prometheus_config(tmp / "prometheus.yml", write_rules_for_fast_evaluation(tmp / "rules"),
                                    web, workers, alertmanager_port=am_port)
    with ExitStack() as running:
        running.callback(stack.stop)
        inbox = running.enter_context(smtp_server(smtp_port))
        stack.start(timeout_s=60)
        running.enter_context(process(
            [alertmanager_bin, f"--config.file={am_config}", f"--storage.path={tmp / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="], tmp / "alertmanager.log"))
        running.enter_context(process(
            [prometheus_bin, f"--config.file={prom_config}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=1h"],
            tmp / "prometheus.log"))
        chain = Chain(settings, f"http://127.0.0.1:{prom_port}", inbox)
        wait_for(lambda: http("GET", f"http://127.0.0.1:{am_port}/-/ready")[0] == 200, 20, "Alertmanager")
        wait_for(lambda: len(chain.query('up{job=~"yangpu-.*"} == 1')) == 6, 30, "Prometheus to scrape all six")
        breach(settings)
        # the second breach only once Prometheus has the first one's series (both clocks of the key demand)
        wait_for(lambda: len(chain.query(
            f'yangpu_sla_clocks_breached_total{{key_enterprise="true",street="{BREACH_STREET}"}}')) == 2, 30,
            "the first breach's counters")
        breach(settings)
        yield chain


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    started = time.monotonic()
    with live_chain(tmp_path_factory.mktemp("chain")) as run:
        assert time.monotonic() - started < CHAIN_S, "the suite, Prometheus and Alertmanager took too long to start"
        yield run


def test_a_breach_mails_that_streets_supervisor_once_in_chinese_with_a_link(chain: Chain):
    first = wait_for(lambda: chain.inbox.mails, 40, "Alertmanager's e-mail")[0]
    assert {a["metric"]["street"] for a in chain.query('ALERTS{alertname="KeyEnterpriseBreach"}')} == {BREACH_STREET}
    time.sleep(3)  # anything else Alertmanager would send (another group, a second mail) arrives by now
    assert [m.recipients for m in chain.inbox.mails] == [[SUPERVISOR[BREACH_STREET]]], "exactly one mail, to them"
    message = first.message
    assert message["To"] == SUPERVISOR[BREACH_STREET]
    body = message.get_body(("plain",)).get_content()
    assert "殷行街道出现告警：重点企业诉求超时（KeyEnterpriseBreach）" in body, body
    # both clocks of the demand breach together: one group, so one mail naming both (should a scrape fall
    # between the two, the second joins the group and waits for group_interval, 5 minutes)
    kinds = re.findall(r"- yinhang: a key enterprise's demand breached its (\w+) promise \(financing\)", body)
    assert kinds in (["first_response", "resolution"], ["first_response"], ["resolution"]), body
    count = f"（{len(kinds)} 条）" if len(kinds) > 1 else ""
    assert message["Subject"] == f"【杨浦营商诉求告警】殷行街道：重点企业诉求超时{count}"
    # increase() extrapolates a series only seconds old: the count is an estimate, a whole positive number
    assert len(re.findall(r"涉及诉求：[1-9][0-9]* 件", body)) == len(kinds), body
    assert body.count(f"查看：{chain.settings.service_urls['routing']}/supervisor") == len(kinds), body
    assert "passed its" in body and "target in the last 10 minutes" in body  # the rule's description
    html = message.get_body(("html",)).get_content()
    assert f'href="{chain.settings.service_urls["routing"]}/supervisor"' in html


def test_nobody_else_is_mailed(chain: Chain):
    wait_for(lambda: chain.inbox.mails, 40, "Alertmanager's e-mail")
    told = {address for mail in chain.inbox.mails for address in mail.recipients}
    assert SUPERVISOR[QUIET_STREET] not in told  # its ordinary breaches page nobody
    assert FORMER_SUPERVISOR not in told and ADMIN not in told


def test_the_webhook_reached_routing_and_the_supervisor_sees_the_alert(chain: Chain):
    routing = chain.settings.service_urls["routing"]

    def alerts_of(street: str) -> list[dict[str, Any]]:
        supervisor = issue_token("supervisor", f"sup-{street}", street, secret=chain.settings.jwt_secret)
        status, answer = http("GET", f"{routing}/api/v1/alerts", token=supervisor)
        assert status == 200, answer
        return answer["items"]

    shown = wait_for(lambda: alerts_of(BREACH_STREET), 40, "routing to list the webhook's alert")
    assert {(a["alertname"], a["street"], a["status"], a["page"]) for a in shown} == {
        ("KeyEnterpriseBreach", BREACH_STREET, "firing", "/supervisor")}
    assert alerts_of(QUIET_STREET) == []
