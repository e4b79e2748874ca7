"""The pages' live channel, measured: N help desks short-polling the desk's list against a real intake.

The suite's one live channel is short polling (``data-poll-url`` regions of shared/webkit/static/pages.js,
re-rendered by the server). This script checks what it costs: it creates a scratch PostgreSQL database,
migrates and seeds intake, starts intake's web process under gunicorn (the project's gunicorn.conf.py, sync
workers), files ``--demands`` online demands, opens one page session per desk and then

1. renders the list alone (``GET /helpdesk/list``) ``--renders`` times from one client: the time to render a
   list, server and loopback included;
2. runs ``--desks`` simulated desks, each polling every ``--every`` seconds for ``--seconds``, and reads the
   CPU time the gunicorn processes used meanwhile (``/proc``): the server CPU per poll and the share of a core
   the desks keep busy.

    .venv/bin/python bench/live_channel.py --desks 20 --every 2 --seconds 30

Needs PostgreSQL (deploy/postgres/postgres.sh start). Linux only (/proc).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake_throughput import create_database, drop_database, start_processes, stop_processes  # noqa: E402
from shared.auth import issue_token  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--desks", type=int, default=20, help="simulated desks polling at once (default 20)")
    p.add_argument("--every", type=float, default=2.0, help="seconds between two polls of a desk (default 2)")
    p.add_argument("--seconds", type=float, default=30.0, help="how long the desks poll (default 30)")
    p.add_argument("--demands", type=int, default=20, help="online demands waiting in the list (default 20)")
    p.add_argument("--renders", type=int, default=200, help="sequential renders timed alone (default 200)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (default 2)")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_INTAKE_PORT", "18031")))
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    args = p.parse_args(argv)
    args.bus = "none"  # what start_processes reads: no worker, the web process alone
    args.metrics_port = 0
    return args


def cpu_seconds(root_pid: int) -> float:
    """User + system CPU of ``root_pid`` and its children (gunicorn's master and workers), from /proc."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry.name), int(fields[1])
        if pid == root_pid or ppid == root_pid:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def get(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[int, float, int]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": f"yangpu_session={cookie}", "Accept": "text/html"})
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, time.perf_counter() - started, len(body)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="bench-live-"))
    secret = f"bench-secret-{run}-{uuid.uuid4().hex}"
    url = create_database(run)
    env = {**os.environ, "YANGPU_MODE": "production", "VAR_DIR": str(tmp), "INTAKE_DATABASE_URL": url,
           "EVENT_BUS": "sqlite", "TOPIC_PREFIX": f"bench{run}.", "JWT_SECRET": secret, "LOG_LEVEL": "WARNING",
           "GUNICORN_BIND": f"127.0.0.1:{args.port}", "INTAKE_PORT": str(args.port),
           "WEB_CONCURRENCY": str(args.workers), "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}
    (tmp / "prometheus").mkdir()
    procs = []
    try:
        from devstack.seed import seed
        from shared.accounts import Accounts
        from shared.auth_store import open_engine
        from shared.config import Settings
        from tests.helpers import demand_body

        settings = Settings.from_env(env)
        seed(settings, ("intake",))
        procs = start_processes(env, args, tmp)
        token = issue_token("helpdesk_agent", "bench-hd", None, secret=secret)
        conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        for i in range(args.demands):
            conn.request("POST", "/api/v1/demands", body=json.dumps(demand_body(
                channel="online_helpdesk", title=f"在线咨询 {i}")),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 201, resp.status
        store = open_engine(settings.auth_database_url)
        accounts = Accounts(store)
        accounts.create("bench-hd", "helpdesk_agent", "bench-hd@example.cn", password=uuid.uuid4().hex,
                        must_change_password=False)
        account = accounts.get("bench-hd")
        assert account is not None
        cookies = [accounts.open_session(account) for _ in range(args.desks)]
        store.dispose()

        # 1. The time to render a list, one client, nothing else running.
        for _ in range(10):  # warm the workers (templates compiled, connections open)
            get(conn, "/helpdesk/list", cookies[0])
        master = procs[0].pid
        cpu_before = cpu_seconds(master)
        times, size = [], 0
        for _ in range(args.renders):
            status, took, size = get(conn, "/helpdesk/list", cookies[0])
            assert status == 200, status
            times.append(took)
        cpu_alone = (cpu_seconds(master) - cpu_before) / args.renders
        conn.close()

        # 2. N desks polling every `every` seconds, spread evenly over the interval.
        latencies: list[float] = []
        errors = [0]
        lock = threading.Lock()
        start = time.monotonic() + 0.5
        stop = start + args.seconds

        def desk(index: int) -> None:
            own = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
            at = start + index * args.every / args.desks
            while at < stop:
                time.sleep(max(0.0, at - time.monotonic()))
                try:
                    status, took, _ = get(own, "/helpdesk/list", cookies[index])
                except OSError:
                    status, took = 0, 0.0
                    own.close()
                    own = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
                with lock:
                    if status == 200:
                        latencies.append(took)
                    else:
                        errors[0] += 1
                at += args.every
            own.close()

        threads = [threading.Thread(target=desk, args=(i,)) for i in range(args.desks)]
        cpu_before = cpu_seconds(master)
        wall = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - wall
        cpu_load = cpu_seconds(master) - cpu_before
        polls = len(latencies)

        print(f"intake GET /helpdesk/list — gunicorn {args.workers} sync workers, PostgreSQL, "
              f"{args.demands} online demands in the list ({size} bytes of HTML)")
        print(f"  render alone  p50 {statistics.median(times) * 1000:.1f} ms  "
              f"p95 {percentile(times, 0.95) * 1000:.1f} ms"
              f"  ({args.renders} renders, one client; server CPU {cpu_alone * 1000:.1f} ms per render)")
        print(f"  {args.desks} desks polling every {args.every:g} s for {wall:.1f} s: {polls} polls "
              f"({polls / wall:.1f}/s), {errors[0]} errors")
        if polls:
            print(f"  poll latency  p50 {statistics.median(latencies) * 1000:.1f} ms  "
                  f"p95 {percentile(latencies, 0.95) * 1000:.1f} ms  max {max(latencies) * 1000:.1f} ms")
            print(f"  server CPU    {cpu_load / polls * 1000:.1f} ms per poll; {cpu_load / wall:.0%} of one core "
                  f"for the {args.desks} desks")
        return 0 if polls and not errors[0] else 1
    finally:
        stop_processes(procs)
        if not args.keep_db:
            drop_database(run)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
