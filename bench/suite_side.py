"""The suite's half of ``bench/side_by_side.sh``: production mode, the whole suite running, under the same wrk load
as the peer, then at offered rates; what each demand costs in CPU across every process.

Phases, each on the same running suite (PostgreSQL + Kafka, WEB_CONCURRENCY web workers per service):
1. ``wrk`` (bench/post-yangpu.lua) at each of ``--conns``: 5 s warm-up, ``--duration`` measured. Intake's
   rate and latency, then the end-to-end rate: demands accepted in the window ÷ time until routing and SLA
   hold every one (routed, both clocks opened).
2. Open loop at ``--latency-rate`` (100/s) for ``--latency-seconds``: intake POST → ``assigned`` event
   p50/p99, watched on the topic.
3. Open loop at ``--sustain-rate`` (250/s) for ``--sustain-seconds``: the backlog (accepted but not yet
   routed and clocked) every 5 s, the end-to-end rate, how long the drain took and what was never routed.
Every phase reads the CPU seconds of every process from /proc (web, workers, PostgreSQL, the broker) over
its window plus its drain and prints ms per demand. Rows are appended to ``--tsv``.

    .venv/bin/python bench/suite_side.py --tsv /tmp/results.tsv     (needs `make servers` and wrk)
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kafka import KafkaConsumer  # noqa: E402 - the script runs from the checkout
from sqlalchemy import create_engine, text  # noqa: E402

from bench.procs import cpu_seconds, per_item, processes, snapshot, table  # noqa: E402
from devstack import environments  # noqa: E402
from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from shared.auth import issue_token  # noqa: E402
from shared.contracts import events  # noqa: E402
from shared.contracts.events import DEMAND_EVENTS  # noqa: E402
from shared.messaging.backends import ensure_topics  # noqa: E402

HERE = Path(__file__).resolve().parent
USCC = "913101103087743H0U"  # a valid GB 32100 code (Yangpu division), as in the peer's script
BODY = {"channel": "grid", "street": "wujiaochang", "category": "taxation", "complexity": "simple",
        "title": "发票开具问题", "enterprise": {"name": "上海杨浦测试科技有限公司", "uscc": USCC,
                                          "contact_name": "王经理", "contact_phone": "13812345678"}}


class Counts:
    """Demands held by intake, routing and SLA (clocks ÷ 2), read from each service's own database."""

    def __init__(self, stack: Stack) -> None:
        self.engines = {s: create_engine(stack.settings.database_url(s)) for s in ("intake", "routing", "sla")}

    def read(self) -> tuple[int, int, int]:
        def one(service: str, sql: str) -> int:
            with self.engines[service].connect() as conn:
                return int(conn.execute(text(sql)).scalar_one())
        return (one("intake", "SELECT count(*) FROM demands"), one("routing", "SELECT count(*) FROM assignments"),
                one("sla", "SELECT count(*) FROM clocks") // 2)

    def drain(self, max_s: float = 600.0, still_s: float = 15.0) -> tuple[float, tuple[int, int, int]]:
        """Wait until routing and SLA hold every demand intake holds (or nothing moved for ``still_s``);
        the time of the last progress and the counts then."""
        last, moved_at, end = self.read(), time.monotonic(), time.monotonic() + max_s
        while time.monotonic() < end:
            now = self.read()
            if now[0] == now[1] == now[2]:
                return time.monotonic(), now
            if now != last:
                last, moved_at = now, time.monotonic()
            elif time.monotonic() - moved_at > still_s:
                break
            time.sleep(0.1)
        return moved_at, last


def wrk(conns: int, seconds: str, url: str, out: Path) -> dict[str, float]:
    """Run wrk with the peer's script; its rate, p50/p99 (ms) and 2xx/other counts."""
    proc = subprocess.run(["wrk", f"-t{2 if conns > 1 else 1}", f"-c{conns}", f"-d{seconds}", "--timeout", "30s",
                           "--latency", "-s", str(HERE / "post-yangpu.lua"), url], capture_output=True, text=True,
                          check=True)
    out.write_text(proc.stdout + proc.stderr)
    result = {"ok": 0.0, "bad": 0.0}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec"):
            result["rate"] = float(parts[1])
        elif line.startswith("LATENCY_US"):
            fields = dict(p.split("=") for p in parts[1:])
            result["p50"], result["p99"] = int(fields["p50"]) / 1000, int(fields["p99"]) / 1000
        elif line.startswith("STATUS"):
            result["ok" if 200 <= int(parts[1]) < 300 else "bad"] += int(parts[2])
    return result


def open_loop(url: str, token: str, rate: float, seconds: float, threads: int = 16) -> tuple[dict[str, float], int]:
    """POST at ``rate`` for ``seconds`` on schedule (a late request is late from its slot, not from its send);
    {demand id: scheduled send time} and the number of refusals."""
    host, port = url.split("//", 1)[1].split(":")
    total, start = int(rate * seconds), time.perf_counter() + 0.2
    slots, lock = iter(range(total)), threading.Lock()
    sent: dict[str, float] = {}
    refused = [0]

    def client(tid: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while True:
            with lock:
                i = next(slots, None)
            if i is None:
                break
            due = start + i / rate
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            key = f"open-{os.getpid()}-{start}-{i}"
            body = json.dumps({**BODY, "description": f"企业反映电子发票开具问题 {key}"})
            conn.request("POST", "/api/v1/demands", body=body.encode(), headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json", "Idempotency-Key": key})
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status in (200, 201, 202):
                with lock:
                    sent[json.loads(payload)["id"]] = due
            else:
                with lock:
                    refused[0] += 1

    workers = [threading.Thread(target=client, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sent, refused[0]


class AssignedWatch:
    """When each demand's ``assigned`` event (with an officer) was seen on the topic."""

    def __init__(self, stack: Stack) -> None:
        s = stack.settings
        self.consumer = KafkaConsumer(s.topic(DEMAND_EVENTS), bootstrap_servers=s.kafka_bootstrap_servers,
                                      auto_offset_reset="latest", fetch_max_wait_ms=5, group_id=None)
        self.consumer.poll(timeout_ms=1000)
        self.seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=50).values():
                now = time.perf_counter()
                for r in records:
                    if dict(r.headers).get("ce_type") == events.ASSIGNED.encode():
                        self.seen.setdefault(r.key.decode(), now)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.consumer.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tsv", type=Path, required=True)
    p.add_argument("--conns", default="8 1")
    p.add_argument("--duration", default="20s")
    p.add_argument("--warmup", default="5s")
    p.add_argument("--latency-rate", type=float, default=100.0)
    p.add_argument("--latency-seconds", type=float, default=30.0)
    p.add_argument("--sustain-rate", type=float, default=250.0)
    p.add_argument("--sustain-seconds", type=float, default=60.0)
    p.add_argument("--base-port", type=int, default=18001)
    p.add_argument("--phases", default="wrk latency sustain")
    p.add_argument("--workers", type=int, default=1, help="routing and SLA worker processes each (6 partitions)")
    args = p.parse_args()
    out_dir = args.tsv.parent

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the suite's processes on the way out
    with TemporaryDirectory() as tmp:
        env = environments.production(Path(tmp), "sbs", base_port=args.base_port)
        env.setdefault("WEB_CONCURRENCY", "2")
        stack = Stack(env, log_dir=out_dir / "suite-logs")
        try:
            seed(stack.settings)
            routing_db = create_engine(stack.settings.database_url("routing"))
            with routing_db.begin() as conn:  # measure the pipeline, not the roster filling up
                conn.execute(text("UPDATE officers SET capacity = 1000000"))
            routing_db.dispose()
            ensure_topics(stack.settings)
            stack.start()
            for instance in range(2, args.workers + 1):
                for service in ("routing", "sla"):
                    stack.start_worker(service, instance)
            time.sleep(3 + 5 * (args.workers > 1))  # a joining worker waits out the group's rebalance
            url = stack.settings.service_urls["intake"]
            token = issue_token("grid_worker", "grid-wujiaochang-01", "wujiaochang", secret=stack.settings.jwt_secret)
            os.environ.update(TOKEN=token, USCC=USCC)
            counts = Counts(stack)
            named = processes({name: proc.pid for name, proc in stack.procs.items()})

            def charged(label: str, run: Callable[[], dict[str, object]]) -> None:
                """Run a phase between two CPU snapshots taken over its window and drain."""
                n0, before, t0 = counts.read(), snapshot(named), time.monotonic()
                row = run()
                drained_at, n1 = counts.drain()
                after = snapshot(named)
                n = n1[0] - n0[0]
                spent = cpu_seconds(before, after)
                row.update(accepted=n, never_routed=n1[0] - n1[1], never_clocked=n1[0] - n1[2],
                           e2e_rate=round(n / max(drained_at - t0, 1e-9), 1), **per_item(spent, n))
                print(f"\n{label}: {json.dumps({k: v for k, v in row.items() if k != 'cpu'})}")
                print("\n".join(table(spent, n)), flush=True)
                with args.tsv.open("a") as f:
                    f.write(f"{label}\t{json.dumps(row)}\n")

            if "wrk" in args.phases:
                for c in (int(x) for x in args.conns.split()):
                    wrk(c, args.warmup, url, out_dir / f"yp-warm-c{c}.txt")
                    counts.drain()
                    charged(f"suite wrk c{c}", lambda c=c: wrk(c, args.duration, url, out_dir / f"yp-c{c}.txt"))
            if "latency" in args.phases:
                def latency() -> dict[str, object]:
                    watch = AssignedWatch(stack)
                    sent, refused = open_loop(url, token, args.latency_rate, args.latency_seconds)
                    end = time.perf_counter() + 30
                    while len(sent.keys() & watch.seen.keys()) < len(sent) and time.perf_counter() < end:
                        time.sleep(0.1)
                    watch.close()
                    lat = [1000 * (watch.seen[d] - t) for d, t in sent.items() if d in watch.seen]
                    return {"offered": args.latency_rate, "refused": refused, "assigned_seen": len(lat),
                            "p50_ms": round(statistics.median(lat), 1), "p99_ms": round(pct(lat, 0.99), 1),
                            "max_ms": round(max(lat), 1)}
                charged(f"suite assigned latency at {args.latency_rate:g}/s", latency)
            if "sustain" in args.phases:
                def sustain() -> dict[str, object]:
                    backlog: list[int] = []
                    done = threading.Event()

                    def sample() -> None:
                        while not done.wait(5):
                            a, r, k = counts.read()
                            backlog.append(a - min(r, k))
                    sampler = threading.Thread(target=sample, daemon=True)
                    sampler.start()
                    t0 = time.monotonic()
                    sent, refused = open_loop(url, token, args.sustain_rate, args.sustain_seconds, threads=24)
                    sent_for = time.monotonic() - t0
                    done.set()
                    sampler.join()
                    return {"offered": args.sustain_rate, "accepted_rate": round(len(sent) / sent_for, 1),
                            "refused": refused, "backlog_every_5s": backlog}
                charged(f"suite sustained at {args.sustain_rate:g}/s", sustain)
        finally:
            stack.stop()
            environments.drop(env)


if __name__ == "__main__":
    main()
