"""Sustained POST /api/v1/demands throughput: intake under gunicorn on PostgreSQL, writing the outbox.

Creates a scratch PostgreSQL database, migrates and seeds intake, starts intake's web process under gunicorn
(with the project's gunicorn.conf.py) and, unless ``--bus none``, intake's worker so the outbox relay
publishes while the load runs. Then N client threads spread over P processes POST valid demands over
loopback for a fixed time (and at most ``--max-requests``), and the script prints demands/s, latency
percentiles and errors, and checks the database holds exactly the demands that were acknowledged.

    .venv/bin/python bench/intake_throughput.py --seconds 5 --clients 16 --procs 2 --workers 4

Needs PostgreSQL (deploy/postgres/postgres.sh start); ``--bus kafka`` also needs the broker.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from shared.auth import issue_token  # noqa: E402
from shared.messaging.backends import ensure_topics  # noqa: E402
from shared.validation import uscc_with_check  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432/postgres")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=20.0, help="how long to drive load (default 20)")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of load not counted (default 1)")
    p.add_argument("--clients", type=int, default=16, help="concurrent client threads in total (default 16)")
    p.add_argument("--procs", type=int, default=2, help="client processes the threads are spread over")
    p.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    p.add_argument("--port", type=int, default=int(os.environ.get("BENCH_INTAKE_PORT", "18001")))
    p.add_argument("--metrics-port", type=int, default=int(os.environ.get("BENCH_WORKER_METRICS_PORT", "19101")),
                   help="intake worker's metrics port")
    p.add_argument("--bus", choices=("kafka", "sqlite", "none"), default="kafka",
                   help="run the outbox relay publishing to Kafka or the embedded log, or no relay (default kafka)")
    p.add_argument("--max-requests", type=int, default=2_000_000, help="stop after this many POSTs in total")
    p.add_argument("--new-enterprise-share", type=float, default=0.1,
                   help="share of demands for enterprises the registry does not know yet (default 0.1)")
    p.add_argument("--no-idempotency-key", action="store_true", help="send no Idempotency-Key header")
    p.add_argument("--keep-db", action="store_true", help="do not drop the scratch database")
    p.add_argument("--load", choices=("python", "wrk"), default="python",
                   help="load generator: Python client processes, or wrk (C; leaves more CPU to the server)")
    return p.parse_args(argv)


# --- the server side ------------------------------------------------------------------------------------


def create_database(run: str) -> str:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "bench_{run}_intake"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/bench_{run}_intake"


def drop_database(run: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "bench_{run}_intake" WITH (FORCE)'))
    admin.dispose()


def start_processes(env: dict[str, str], args, tmp: Path) -> list[subprocess.Popen]:
    procs = []

    def spawn(name: str, argv: list[str]) -> None:
        log = open(tmp / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child
        procs.append(subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))

    spawn("intake-web", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                         "--workers", str(args.workers), "intake_service.app:create()"])
    if args.bus != "none":
        spawn("intake-worker", [sys.executable, "-m", "intake_service.worker"])
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return procs
        except OSError:
            pass
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a process exited with {proc.returncode}; see logs in {tmp}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"intake not ready after 60 s; see logs in {tmp}")
        time.sleep(0.2)


def stop_processes(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- the client side ------------------------------------------------------------------------------------


def client_process(index: int, threads: int, port: int, tokens: list[tuple[str, str, str]],
                   enterprises: list[dict], start_at: float, warmup_until: float, stop_at: float,
                   quota: int, new_share: float, with_key: bool, results) -> None:
    """Run ``threads`` client threads until ``stop_at``; put (latencies, statuses, all 201s) in ``results``."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(10**5))
    sent = [0]
    created = [0]

    def body_for(rng: random.Random, street: str, channel: str) -> bytes:
        if rng.random() < new_share:
            with lock:
                n = next(counter)
            uscc = uscc_with_check(f"91310110MA{index:02d}{n:05d}")
            ent = {"name": f"上海压测企业{index}-{n}有限公司", "uscc": uscc}
        else:
            known = [e for e in enterprises if e["street"] == street] or enterprises
            ent = {"name": (chosen := rng.choice(known))["name"], "uscc": chosen["uscc"]}
        return json.dumps({
            "channel": channel, "street": street, "category": rng.choice(["taxation", "employment", "financing"]),
            "title": "开具发票遇到困难", "description": "企业反映电子发票系统无法登录，需要税务专员协助。" * 3,
            "enterprise": {**ent, "contact_name": "王经理", "contact_phone": "13812345678"},
        }, ensure_ascii=False).encode()

    def run(thread: int) -> None:
        rng = random.Random(index * 1000 + thread)
        street, channel, token = tokens[(index * threads + thread) % len(tokens)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            now = time.time()
            if now >= stop_at:
                break
            with lock:
                if sent[0] >= quota:
                    break
                sent[0] += 1
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            if with_key:
                headers["Idempotency-Key"] = uuid.uuid4().hex
            payload = body_for(rng, street, channel)
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/demands", body=payload, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status = str(resp.status)
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
            elapsed = time.perf_counter() - started
            with lock:
                created[0] += status == "201"
            if now >= warmup_until:
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "201":
                        latencies.append(elapsed)
        conn.close()

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put((latencies, statuses, created[0]))


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main(argv=None) -> int:
    args = parse_args(argv)
    run = uuid.uuid4().hex[:8]
    tmp = Path(tempfile.mkdtemp(prefix="bench-intake-"))
    secret = f"bench-secret-{run}-{uuid.uuid4().hex}"
    url = create_database(run)
    prom = tmp / "prometheus"
    prom.mkdir()
    env = {**os.environ, "YANGPU_MODE": "production", "VAR_DIR": str(tmp), "INTAKE_DATABASE_URL": url,
           "EVENT_BUS": "kafka" if args.bus == "kafka" else "sqlite", "TOPIC_PREFIX": f"bench{run}.",
           "JWT_SECRET": secret, "LOG_LEVEL": "WARNING", "GUNICORN_BIND": f"127.0.0.1:{args.port}",
           "INTAKE_PORT": str(args.port), "INTAKE_WORKER_METRICS_PORT": str(args.metrics_port),
           "PROMETHEUS_MULTIPROC_DIR": str(prom)}
    procs: list[subprocess.Popen] = []
    try:
        from devstack.seed import seed
        from shared.config import Settings

        settings = Settings.from_env(env)
        seed(settings, ("intake",))
        if args.bus == "kafka":
            ensure_topics(settings)
        procs = start_processes(env, args, tmp)

        import yaml

        enterprises = yaml.safe_load((ROOT / "deploy" / "enterprises.yaml").read_text(encoding="utf-8"))["enterprises"]
        streets = sorted({e["street"] for e in enterprises})
        tokens = [(s, "grid", issue_token("grid_worker", f"bench-grid-{s}", s, secret=secret)) for s in streets]
        tokens += [(s, "hotline_12345", issue_token("hotline_agent", f"bench-hotline-{i}", secret=secret))
                   for i, s in enumerate(streets)]
        random.Random(7).shuffle(tokens)

        if args.load == "wrk":
            return run_wrk(args, url, tokens, enterprises, tmp)

        procs_n = max(1, min(args.procs, args.clients))
        per_proc = [args.clients // procs_n + (1 if i < args.clients % procs_n else 0) for i in range(procs_n)]
        quota = [args.max_requests // procs_n] * procs_n
        start_at = time.time() + 1.0
        warmup_until = start_at + args.warmup
        stop_at = warmup_until + args.seconds
        ctx = multiprocessing.get_context("fork")
        results = ctx.Queue()
        clients = [ctx.Process(target=client_process, args=(
            i, per_proc[i], args.port, tokens, enterprises, start_at, warmup_until, stop_at, quota[i],
            args.new_enterprise_share, not args.no_idempotency_key, results)) for i in range(procs_n)]
        for c in clients:
            c.start()
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        acknowledged = 0
        for _ in clients:
            lat, st, created = results.get(timeout=args.warmup + args.seconds + 120)
            acknowledged += created
            latencies += lat
            for k, v in st.items():
                statuses[k] = statuses.get(k, 0) + v
        for c in clients:
            c.join()
        measured_until = min(stop_at, time.time())
        duration = measured_until - warmup_until

        from intake_service.model import Demand, outbox

        engine = create_engine(url)
        deadline = time.monotonic() + 30
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Demand.__table__)).scalar_one()
            waiting = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
            while args.bus != "none" and waiting and time.monotonic() < deadline:
                time.sleep(0.5)
                waiting = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
        engine.dispose()

        ok = statuses.get("201", 0)
        errors = {k: v for k, v in statuses.items() if k != "201"}
        latencies.sort()
        print(f"intake POST /api/v1/demands — gunicorn {args.workers} workers, {args.clients} clients in "
              f"{procs_n} processes, PostgreSQL, outbox relay: {args.bus}")
        print(f"  measured      {duration:.1f} s (after {args.warmup:.1f} s warm-up)")
        print(f"  demands/s     {ok / duration:,.0f}")
        print(f"  latency p50   {percentile(latencies, 0.50) * 1000:.1f} ms")
        print(f"  latency p90   {percentile(latencies, 0.90) * 1000:.1f} ms")
        print(f"  latency p99   {percentile(latencies, 0.99) * 1000:.1f} ms")
        print(f"  latency max   {(latencies[-1] if latencies else float('nan')) * 1000:.1f} ms")
        print(f"  errors        {sum(errors.values())} {errors if errors else ''}")
        print(f"  demands in DB {stored} = {acknowledged} answered 201 (incl. warm-up): "
              f"{'yes' if stored == acknowledged else 'NO'}; outbox rows still waiting: {waiting}")
        return 0 if not errors and stored == acknowledged else 1
    finally:
        stop_processes(procs)
        if not args.keep_db:
            drop_database(run)
        shutil.rmtree(tmp, ignore_errors=True)


WRK_SCRIPT = """
local tokens = {%s}
local usccs = {%s}
local n = 0
math.randomseed(%d + tonumber(string.sub(tostring({}), 8), 16) %% 100000)
request = function()
  n = n + 1
  local t = tokens[(n %% #tokens) + 1]
  local body = string.format('{"channel":"grid","street":"%%s","category":"taxation","complexity":"simple",' ..
    '"title":"wrk %%d","description":"bench","enterprise":{"name":"%%s","uscc":"%%s","contact_name":"bench",' ..
    '"contact_phone":"13812345678"}}', t[1], n, usccs[t[1]][1], usccs[t[1]][2])
  return wrk.format("POST", "/api/v1/demands", {["Authorization"] = "Bearer " .. t[2],
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = string.format("%%d-%%d-%%d", math.random(1e9), math.random(1e9), n)}, body)
end
"""


def run_wrk(args, url: str, tokens, enterprises, tmp: Path) -> int:
    """Drive the load with wrk (C, two threads) and print its figures; the DB count is checked the same way."""
    import re

    grid = [(street, token) for street, channel, token in tokens if channel == "grid"]
    first = {}
    for e in enterprises:
        first.setdefault(e["street"], (e["name"], e["uscc"]))
    script = tmp / "post.lua"
    script.write_text(WRK_SCRIPT % (
        ", ".join(f'{{"{s}", "{t}"}}' for s, t in grid),
        ", ".join(f'{s} = {{"{n}", "{u}"}}' for s, (n, u) in first.items()),
        os.getpid()), encoding="utf-8")
    out = subprocess.run(["wrk", "-t2", f"-c{args.clients}", f"-d{int(args.seconds)}s", "--latency", "-s", str(script),
                          f"http://127.0.0.1:{args.port}"], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    from intake_service.model import Demand

    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(Demand.__table__)).scalar_one()
    engine.dispose()
    print(f"intake POST /api/v1/demands — gunicorn {args.workers} workers, wrk 2 threads x {args.clients} "
          f"connections, PostgreSQL, outbox relay: {args.bus}")
    print(f"  measured      {args.seconds:.0f} s")
    print(f"  demands/s     {rate:,.0f}")
    print(f"  latency p50   {lat.get('50')}   p90 {lat.get('90')}   p99 {lat.get('99')}")
    print(f"  errors        {int(non2xx.group(1)) if non2xx else 0}")
    print(f"  demands in DB {stored} (wrk sent {total}; requests cut off at the end may still have completed)")
    return 0 if not non2xx else 1


if __name__ == "__main__":
    sys.exit(main())
