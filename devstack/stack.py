"""Run the whole suite on one machine: three web processes under gunicorn and three workers.

``python -m devstack.stack`` (what ``make run`` calls) seeds the databases, starts everything, waits until
each service is ready, prints the URLs, a demo token per role (for the API) and a demo account per role (for
the pages: created on the first run, its one-time password printed once), restarts a process that dies (with
back-off, saying so on the console) and stops everything on Ctrl-C or SIGTERM.
The tests use :class:`Stack` to start the same processes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from devstack.seed import seed
from shared.accounts import AccountRefused, Accounts
from shared.auth import issue_token
from shared.auth_store import open_engine
from shared.config import PROJECT_ROOT, SERVICES, Settings

DEMO_USERS = (
    ("grid_worker", "grid-wujiaochang-01", "wujiaochang"),
    ("hotline_agent", "hotline-01", None),
    ("helpdesk_agent", "helpdesk-01", None),
    ("officer", "com-wujiaochang-1", "wujiaochang"),
    ("supervisor", "sup-wujiaochang", "wujiaochang"),
    ("admin", "admin-01", None),
)
MAX_BACKOFF_S = 30.0
STABLE_AFTER_S = 60.0  # a process that ran this long before dying starts its back-off from 1 s again


@dataclass
class _Supervised:
    """How to start a process (again), and its restart back-off."""

    argv: list[str]
    extra_env: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[], None] | None = None  # run before every start
    started_at: float = 0.0
    quick_exits: int = 0  # deaths in a row, each within STABLE_AFTER_S of its start
    restart_at: float | None = None  # set while a dead process waits for its back-off


class Stack:
    """The suite's processes, started with one environment."""

    def __init__(self, env: Mapping[str, str] | None = None, web: bool = True, log_dir: Path | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.settings = Settings.from_env(self.env)
        self.web = web
        self.log_dir = log_dir or self.settings.var_dir / "logs"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._supervised: dict[str, _Supervised] = {}
        self.clock: Callable[[], float] = time.monotonic  # for the back-off; tests may replace it

    def seed(self) -> None:
        self.settings.var_dir.mkdir(parents=True, exist_ok=True)
        seed(self.settings)

    def _spawn(self, name: str, argv: list[str], extra_env: Mapping[str, str] | None = None,
               prepare: Callable[[], None] | None = None) -> None:
        self._supervised[name] = _Supervised(argv, extra_env or {}, prepare)
        self._launch(name)

    def _launch(self, name: str) -> None:
        sup = self._supervised[name]
        if sup.prepare is not None:
            sup.prepare()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(sup.argv, cwd=PROJECT_ROOT, env={**self.env, **sup.extra_env},
                                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        sup.started_at = self.clock()
        sup.restart_at = None

    def start_worker(self, service: str, instance: int = 1) -> None:
        """Start a worker process; ``instance`` > 1 adds another one (its metrics port moves up by 10 each)."""
        if instance == 1:
            self._spawn(f"{service}-worker", [sys.executable, "-m", f"{service}_service.worker"])
            return
        port = self.settings.worker_metrics_ports[service] + 10 * (instance - 1)
        self._spawn(f"{service}-worker-{instance}", [sys.executable, "-m", f"{service}_service.worker"],
                    {f"{service.upper()}_WORKER_METRICS_PORT": str(port)})

    def start_web(self, service: str) -> None:
        prom_dir = self.settings.var_dir / "prometheus" / service

        def fresh_prometheus_dir() -> None:  # a dead master's files would count its old workers forever
            shutil.rmtree(prom_dir, ignore_errors=True)
            prom_dir.mkdir(parents=True)

        self._spawn(f"{service}-web", [
            sys.executable, "-m", "gunicorn", "-c", str(PROJECT_ROOT / "deploy" / "gunicorn.conf.py"),
            f"{service}_service.app:create()",
        ], {"GUNICORN_BIND": f"127.0.0.1:{self.settings.ports[service]}", "PROMETHEUS_MULTIPROC_DIR": str(prom_dir)},
            fresh_prometheus_dir)

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
            url = f"{self.settings.internal_urls[service]}/readyz"  # not through a TLS proxy
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

    def supervise_once(self) -> list[str]:
        """Restart the processes that died, each after its back-off; returns the names restarted now.

        A crashed worker would otherwise leave its consumer group, relay and timers silently stopped while
        the rest of the suite looks healthy. The back-off (1, 2, 4 … 30 s) keeps a process that cannot
        start from spinning; never blocks, so one slow back-off does not hold up the others.
        """
        now = self.clock()
        restarted = []
        for name, proc in list(self.procs.items()):
            sup = self._supervised[name]
            if proc.poll() is None:
                continue
            if sup.restart_at is None:
                if now - sup.started_at >= STABLE_AFTER_S:
                    sup.quick_exits = 0
                delay = min(MAX_BACKOFF_S, 2.0 ** min(sup.quick_exits, 5))
                sup.quick_exits += 1
                sup.restart_at = now + delay
                with contextlib.suppress(ProcessLookupError):  # its children (gunicorn's workers) hold the port
                    os.killpg(proc.pid, signal.SIGKILL)
                print(f"{name} exited with {proc.returncode}; restarting in {delay:g} s", flush=True)
            elif now >= sup.restart_at:
                self._launch(name)
                restarted.append(name)
                print(f"{name} restarted (pid {self.procs[name].pid})", flush=True)
        return restarted

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to one process (group) and wait for it; SIGKILL simulates a crash.

        The process is forgotten, not supervised: the caller decides whether to start it again.
        """
        proc = self.procs.pop(name)
        del self._supervised[name]
        with contextlib.suppress(ProcessLookupError):  # it may have died already
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
        self._supervised.clear()


def demo_tokens(settings: Settings) -> list[tuple[str, str, str]]:
    return [(role, subject, issue_token(role, subject, street, secret=settings.jwt_secret))
            for role, subject, street in DEMO_USERS]


def demo_accounts(settings: Settings) -> list[tuple[str, str, str | None]]:
    """A password account per demo role, created if missing: (role, username, one-time password or None when
    the account existed already). An officer's account acts as their roster id, as their token does."""
    engine = open_engine(settings.auth_database_url)
    made = []
    try:
        accounts = Accounts(engine, roster_path=settings.roster_path)
        for role, subject, street in DEMO_USERS:
            try:
                _account, initial = accounts.create(subject, role, f"{subject}@example.cn", street,
                                                    subject if role == "officer" else None)
            except AccountRefused as exc:
                if exc.kind != "conflict":
                    raise
                initial = None  # made by an earlier run: `python -m shared.accounts reset` gives a new password
            made.append((role, subject, initial))
    finally:
        engine.dispose()
    return made


def _announce(stack: Stack) -> None:
    print("\nAll services ready:")
    for service in SERVICES:
        url = stack.settings.service_urls[service]
        print(f"  {service:8s} {url}   (API docs: {url}/openapi.json, metrics: {url}/metrics)")
    print("\nDemo tokens (Authorization: Bearer <token>):")
    for role, subject, token in demo_tokens(stack.settings):
        print(f"  {role:15s} {subject:22s} {token}")
    print("\nDemo accounts for the pages (a one-time password must be changed at the first sign-in):")
    for role, username, initial in demo_accounts(stack.settings):
        shown = initial or "(created earlier: python -m shared.accounts reset " + username + ")"
        print(f"  {role:15s} {username:22s} {shown}")
    intake = stack.settings.service_urls["intake"]
    print(f"\nPages: sign in at {intake}/signin with an account above (grid worker: {intake}/grid; officer: "
          f"{stack.settings.service_urls['routing']}/officer; supervisor: "
          f"{stack.settings.service_urls['routing']}/supervisor).")
    print(f"Logs in {stack.log_dir}. A process that dies is restarted. Ctrl-C stops everything.", flush=True)


def main() -> None:
    stack = Stack()
    stack.seed()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:  # from here on, whatever happens (a failed start included) stops what was started
        print(f"Starting the suite ({stack.settings.mode} mode, {stack.settings.event_bus} bus)...", flush=True)
        stack.start()
        _announce(stack)
        while True:
            time.sleep(1)
            stack.supervise_once()
    except KeyboardInterrupt:
        print("\nStopping...")
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
