"""`make run` keeps the suite running: a process that dies is restarted with back-off, the rest untouched."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from devstack import environments
from devstack.stack import Stack
from shared.config import SERVICES
from tests.harness import token
from tests.helpers import demand_body


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method: str, url: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_a_killed_worker_and_web_process_come_back_and_the_suite_keeps_routing(tmp_path, capsys):
    env = {**environments.embedded(tmp_path), "WEB_CONCURRENCY": "1"}
    for service in SERVICES:  # free ports, so that another suite running on this machine does not matter
        port = free_port()
        env |= {f"{service.upper()}_PORT": str(port), f"{service.upper()}_URL": f"http://127.0.0.1:{port}",
                f"{service.upper()}_WORKER_METRICS_PORT": str(free_port())}
    stack = Stack(env, web=True, log_dir=tmp_path / "logs")
    stack.seed()
    try:
        stack.start(timeout_s=60)
        before = {name: proc.pid for name, proc in stack.procs.items()}
        os.kill(before["routing-worker"], signal.SIGKILL)  # as the OOM killer would
        os.kill(before["routing-web"], signal.SIGKILL)  # the gunicorn master only: its worker is orphaned
        capsys.readouterr()
        restarted: set[str] = set()
        deadline = time.monotonic() + 30
        while restarted != {"routing-worker", "routing-web"}:
            assert time.monotonic() < deadline, f"only {restarted} restarted"
            restarted |= set(stack.supervise_once())
            time.sleep(0.1)
        printed = capsys.readouterr().out
        assert "routing-worker exited with -9; restarting in 1 s" in printed
        assert "routing-web exited with -9; restarting in 1 s" in printed
        after = {name: proc.pid for name, proc in stack.procs.items()}
        assert after["routing-worker"] != before["routing-worker"] and after["routing-web"] != before["routing-web"]
        untouched = set(before) - restarted
        assert {n: after[n] for n in untouched} == {n: before[n] for n in untouched}
        assert all(proc.poll() is None for proc in stack.procs.values())

        stack.wait_ready(30)
        settings = stack.settings
        status, demand = call("POST", f"{settings.service_urls['intake']}/api/v1/demands",
                              token(settings, "grid_worker", "grid-wjc-01", "wujiaochang"), demand_body())
        assert status == 201, demand
        url = f"{settings.service_urls['routing']}/api/v1/demands/{demand['id']}/assignment"
        supervisor = token(settings, "supervisor", "sup-wujiaochang", "wujiaochang")
        deadline = time.monotonic() + 30
        while (status := call("GET", url, supervisor)[0]) == 404 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200, "the restarted routing worker routed the new demand"
        assert stack.supervise_once() == [] and "exited" not in capsys.readouterr().out
    finally:
        stack.stop()
    assert stack.procs == {}


def test_restarts_back_off_up_to_30_s_and_start_over_after_a_minute_up(tmp_path, capsys):
    stack = Stack(environments.embedded(tmp_path), web=False, log_dir=tmp_path / "logs")
    now = 1000.0
    stack.clock = lambda: now
    stack._spawn("flaky", [sys.executable, "-c", "raise SystemExit(3)"])
    delays = []
    try:
        for _ in range(8):
            stack.procs["flaky"].wait(timeout=30)
            assert stack.supervise_once() == []
            delay = float(capsys.readouterr().out.split("restarting in ")[1].split(" s")[0])
            delays.append(delay)
            now += delay - 0.5
            assert stack.supervise_once() == [], "not before its back-off"
            now += 0.5
            assert stack.supervise_once() == ["flaky"]
        assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
        now += 61  # it stayed up a minute before dying this time
        stack.procs["flaky"].wait(timeout=30)
        stack.supervise_once()
        assert "flaky exited with 3; restarting in 1 s" in capsys.readouterr().out
    finally:
        stack.stop()
    assert stack.procs == {}
