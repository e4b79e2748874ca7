"""Run the whole suite on one machine: three web processes under gunicorn and three workers.

``python -m shared.stack`` (what ``make run`` calls) seeds the databases, starts everything, waits until
each service is ready, prints the URLs and a demo token per role, and stops everything on Ctrl-C.
The tests use :class:`Stack` to start the same processes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from shared.auth import issue_token
from shared.config import PROJECT_ROOT, SERVICES, Settings
from shared.seed import seed

DEMO_USERS = (
    ("grid_worker", "grid-wujiaochang-01", "wujiaochang"),
    ("hotline_agent", "hotline-01", None),
    ("helpdesk_agent", "helpdesk-01", None),
    ("officer", "com-wujiaochang-1", "wujiaochang"),
    ("supervisor", "sup-wujiaochang", "wujiaochang"),
    ("admin", "admin-01", None),
)


class Stack:
    """The suite's processes, started with one environment."""

    def __init__(self, env: Mapping[str, str] | None = None, web: bool = True, log_dir: Path | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.settings = Settings.from_env(self.env)
        self.web = web
        self.log_dir = log_dir or self.settings.var_dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def seed(self) -> None:
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        seed(self.settings)

    def _spawn(self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
        self.procs[name] = subprocess.Popen(argv, cwd=PROJECT_ROOT, env={**self.env, **(extra_env or {})},
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start_worker(self, service: str) -> None:
        self._spawn(f"{service}-worker", [sys.executable, "-m", f"{service}_service.worker"])

    def start_web(self, service: str) -> None:
        prom_dir = self.settings.var_dir / "prometheus" / service
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        self._spawn(f"{service}-web", [
            sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            f"{service}_service.app:create()",
        ], {"GUNICORN_BIND": f"127.0.0.1:{self.settings.ports[service]}", "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)})

    def start(self, timeout_s: float = 60) -> None:
        for service in SERVICES:
            self.start_worker(service)
            if self.web:
                self.start_web(service)
        if self.web:
            self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        for service in SERVICES:
            url = f"{self.settings.service_urls[service]}/readyz"
            while True:
                try:
                    with urllib.request.urlopen(url, timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                self._check_alive()
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not ready after {timeout_s:.0f} s; see {self.log_dir}")
                time.sleep(0.2)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one process (group) and wait for it; SIGKILL simulates a crash."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            del self.procs[name]


def demo_tokens(settings: Settings) -> list[tuple[str, str, str]]:
    return [(role, subject, issue_token(role, subject, street, secret=settings.jwt_secret))
            for role, subject, street in DEMO_USERS]


def main() -> None:
    stack = Stack()
    stack.seed()
    print(f"Starting the suite ({stack.settings.mode} mode, {stack.settings.event_bus} bus)...", flush=True)
    stack.start()
    print("\nAll services ready:")
    for service in SERVICES:
        url = stack.settings.service_urls[service]
        print(f"  {service:8s} {url}   (API docs: {url}/openapi.json, metrics: {url}/metrics)")
    print("\nDemo tokens (Authorization: Bearer <token>):")
    for role, subject, token in demo_tokens(stack.settings):
        print(f"  {role:15s} {subject:22s} {token}")
    intake = stack.settings.service_urls["intake"]
    print(f"\nPages: sign in at {intake}/signin with a token above (grid worker: {intake}/grid; officer: "
          f"{stack.settings.service_urls['routing']}/officer; supervisor: "
          f"{stack.settings.service_urls['routing']}/supervisor).")
    print(f"Logs in {stack.log_dir}. Ctrl-C stops everything.", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while True:
            time.sleep(1)
            stack._check_alive()
    except KeyboardInterrupt:
        print("\nStopping...")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
