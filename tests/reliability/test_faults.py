"""Faults under a steady load: nothing lost, nothing duplicated, nothing stuck, and every worker flows again.

Each scenario runs the suite as real processes (gunicorn web + the three workers) on the fault servers,
offers a steady load whose clients retry a failed POST with the same body and ``Idempotency-Key``,
injects one fault, keeps the load on, then waits for the pipeline to drain and audits it: every demand
answered 201 routed once, both clocks, projected, outboxes and dead-letter topics empty. Liveness is
asserted: each service's progress must resume within ``RECOVERY_LIMIT_S`` of the fault's end (the broker or
database back, the process restarted) with no restart by hand. Figures are printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.conservation import Load, Monitor, audit, drained, wait_until
from shared.config import SERVICES
from shared.contracts import events
from shared.contracts.events import SLA_EVENTS
from shared.messaging.backends import read_topic
from tests.reliability.conftest import FaultServers, Running, start_suite, stop_suite

pytestmark = pytest.mark.production

RECOVERY_LIMIT_S = 30.0
DRAIN_LIMIT_S = 120.0
CLIENTS = 4
RATE = 30.0  # demands per second offered, in total
LATENESS_LIMIT_S = 10.0  # a breach fires this soon after max(its target, its clock opened, the worker back), under load


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (gunicorn's workers under its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def run_scenario(name: str, running: Running, fault: Callable[[], float], warmup_s: float = 6.0,
                 after_s: float = 15.0, rate: float = RATE) -> dict[str, float | None]:
    """Load, fault, load, drain, audit. ``fault`` returns the monotonic instant the fault ended."""
    settings = running.settings
    monitor = Monitor(settings).start()
    load = Load(settings, clients=CLIENTS, rate=rate)
    load.start()
    try:
        time.sleep(warmup_s)
        fault_started = time.monotonic()
        ended = fault()
        time.sleep(after_s)
    finally:
        load.stop()
    ids = load.ids
    drain_ok = wait_until(drained(settings, ids), DRAIN_LIMIT_S)
    monitor.stop()
    recovery = monitor.flowing_again(ended)
    result = audit(settings, ids)
    figures = "  ".join(f"{svc} {'never' if s is None else f'{s:.1f} s'}" for svc, s in recovery.items())
    print(f"\n[{name}] fault lasted {ended - fault_started:.1f} s; {result.line()}; client retries "
          f"{load.retries}, abandoned {load.abandoned}; flowing again after: {figures}", flush=True)
    assert load.abandoned == 0, "a client gave up: the suite refused demands for minutes"
    assert drain_ok, f"not drained within {DRAIN_LIMIT_S:.0f} s: {result.line()}"
    assert result.ok, (f"lost {result.lost[:5]} duplicated {result.duplicated[:5]} stuck {result.stuck[:5]} "
                       f"outbox {result.outbox} dead letters {result.dead_letters}")
    assert result.routed == result.clocked == result.projected == result.accepted > 0
    for svc, seconds in recovery.items():
        assert seconds is not None and seconds <= RECOVERY_LIMIT_S, f"{svc} did not flow again: {recovery}"
    return recovery


@pytest.fixture
def suite_on_fault_servers(fault_servers: FaultServers, tmp_path: Path):
    running = start_suite(tmp_path, fault_servers.pg_admin_url, fault_servers.kafka, base_port=18601)
    try:
        yield running
    finally:
        stop_suite(running, fault_servers.pg_admin_url)


def test_broker_killed_and_restarted_10_s_later(fault_servers, suite_on_fault_servers):
    def fault() -> float:
        fault_servers.kafka_sh("kill")
        time.sleep(10)
        fault_servers.kafka_sh("start")
        return time.monotonic()

    run_scenario("broker kill -9, restarted after 10 s", suite_on_fault_servers, fault)


@pytest.mark.parametrize("down_s", [10, 60])
def test_broker_down_every_worker_resumes_by_itself(fault_servers, suite_on_fault_servers, down_s):
    def fault() -> float:
        fault_servers.kafka_sh("stop")
        time.sleep(down_s)
        fault_servers.kafka_sh("start")
        return time.monotonic()

    run_scenario(f"broker down {down_s} s", suite_on_fault_servers, fault)


def test_postgres_crash(fault_servers, suite_on_fault_servers):
    def fault() -> float:
        fault_servers.postgres_sh("crash")
        return time.monotonic()

    run_scenario("PostgreSQL crash (restart -m immediate)", suite_on_fault_servers, fault)


@pytest.mark.parametrize("service", SERVICES)
def test_worker_killed_and_restarted(suite_on_fault_servers, service):
    stack = suite_on_fault_servers.stack

    def fault() -> float:
        stack.kill(f"{service}-worker")
        stack.start_worker(service)
        return time.monotonic()

    run_scenario(f"kill -9 of the {service} worker", suite_on_fault_servers, fault, warmup_s=5, after_s=10)


def test_a_gunicorn_worker_of_intake_killed_mid_request(suite_on_fault_servers):
    master = suite_on_fault_servers.stack.procs["intake-web"].pid

    def fault() -> float:
        workers = _children(master)
        assert workers, "gunicorn has no workers"
        os.kill(workers[0], signal.SIGKILL)
        return time.monotonic()

    run_scenario("kill -9 of an intake gunicorn worker", suite_on_fault_servers, fault, warmup_s=5, after_s=10)


def test_a_consumer_stopped_past_its_session_timeout(suite_on_fault_servers):
    pid = suite_on_fault_servers.stack.procs["routing-worker"].pid

    def fault() -> float:
        os.killpg(pid, signal.SIGSTOP)
        time.sleep(15)  # the group's session timeout is 6 s: the broker has given its partitions away
        os.killpg(pid, signal.SIGCONT)
        return time.monotonic()

    run_scenario("routing worker SIGSTOP 15 s", suite_on_fault_servers, fault)


TINY_POLICY = """
warning_fraction: 0.5
first_response:
  default: {business_seconds: 8}
resolution:
  simple: {business_seconds: 16}
  complex: {business_seconds: 32}
  difficult: {business_seconds: 64}
"""


def test_sla_worker_killed_while_clocks_are_due(fault_servers, tmp_path):
    """Every clock breaches exactly once: at its target, or as soon as the SLA worker is back."""
    today = datetime.now(UTC).date()
    policy = tmp_path / "policy.yaml"
    policy.write_text(TINY_POLICY, encoding="utf-8")
    overrides = tmp_path / "calendar.yaml"  # every day around today counts, every hour (SERVICE_HOURS)
    days = [today + timedelta(days=i) for i in range(-2, 3)]
    overrides.write_text("workdays: [" + ", ".join(d.isoformat() for d in days) + "]\n", encoding="utf-8")
    running = start_suite(tmp_path, fault_servers.pg_admin_url, fault_servers.kafka, base_port=18701, extra_env={
        "SLA_POLICY_PATH": str(policy), "CALENDAR_OVERRIDES_PATH": str(overrides), "SERVICE_HOURS": "00:00-24:00"})
    try:
        stack = running.stack
        down: list[datetime] = []  # when the SLA worker was killed, and when it was ready again

        def fault() -> float:
            down.append(datetime.now(UTC))
            stack.kill("sla-worker")
            time.sleep(20)  # every clock opened before the kill falls due meanwhile
            stack.start_worker("sla")
            down.append(_ready_at(running))
            return time.monotonic()

        # 10 demands/s: with targets of seconds, every demand makes four timer events within 16 s.
        run_scenario("SLA worker killed across breach targets", running, fault, warmup_s=6, after_s=10, rate=10)
        ids = _accepted_ids(running)
        wait_until(lambda: len(_breaches(running)) >= 2 * len(ids), 60)
        breaches = _breaches(running)
        per_clock: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
        for demand, kind, target, emitted in breaches:
            per_clock.setdefault((demand, kind), []).append((target, emitted))
        assert set(per_clock) == {(d, k) for d in ids for k in ("first_response", "resolution")}
        assert all(len(v) == 1 for v in per_clock.values()), "a clock breached twice"
        # Lateness: from the target, from when SLA opened the clock if that was later (a demand whose submitted
        # event waited in the topic while the worker was down is timed once it is read), or from when the
        # worker was ready again for a target that passed while it was down.
        opened = _first_clock_updates(running)
        killed_at, ready_at = down

        def due_from(key: tuple[str, str], target: datetime) -> datetime:
            return max(target, opened[key], ready_at if killed_at <= target < ready_at else target)

        assert all(emitted >= target for [(target, emitted)] in per_clock.values()), "a breach fired early"
        lateness = sorted((emitted - due_from(key, target)).total_seconds()
                          for key, [(target, emitted)] in per_clock.items())
        overdue = sum(1 for [(target, _)] in per_clock.values() if killed_at <= target < ready_at)
        print(f"[breaches] {len(lateness)} breaches, {overdue} due while the SLA worker was down; fired after "
              f"max(target, clock opened, worker back): p50 {lateness[len(lateness) // 2]:.2f} s, p99 "
              f"{lateness[int(len(lateness) * 0.99)]:.2f} s, max {lateness[-1]:.2f} s", flush=True)
        assert lateness[-1] <= LATENESS_LIMIT_S, "a breach fired late"
    finally:
        stop_suite(running, fault_servers.pg_admin_url)


def _ready_at(running: Running, timeout_s: float = 60.0) -> datetime:
    """When the restarted SLA worker's /readyz first answers 200 (its loops polling, its timers running)."""
    url = f"http://127.0.0.1:{running.settings.worker_metrics_ports['sla']}/readyz"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return datetime.now(UTC)
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError("the SLA worker did not become ready")


def _first_clock_updates(running: Running) -> dict[tuple[str, str], datetime]:
    """When SLA announced each clock first (its opening), per (demand, kind)."""
    opened: dict[tuple[str, str], datetime] = {}
    for message in read_topic(running.settings, SLA_EVENTS):
        if message.headers.get("ce_type") == events.CLOCK_UPDATED.encode():
            data = json.loads(message.value)
            at = datetime.fromisoformat(message.headers["ce_time"].decode().replace("Z", "+00:00"))
            opened.setdefault((data["demand_id"], data["kind"]), at)
    return opened


def _accepted_ids(running: Running) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(running.settings.database_url("intake"))
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(text("SELECT id FROM demands"))}
    engine.dispose()
    return ids


def _breaches(running: Running) -> list[tuple[str, str, datetime, datetime]]:
    out = []
    for message in read_topic(running.settings, SLA_EVENTS):
        headers, value = message.headers, message.value
        if headers.get("ce_type") == events.BREACHED.encode():
            data = json.loads(value)
            out.append((data["demand_id"], data["kind"], datetime.fromisoformat(data["target_at"]),
                        datetime.fromisoformat(headers["ce_time"].decode().replace("Z", "+00:00"))))
    return out

