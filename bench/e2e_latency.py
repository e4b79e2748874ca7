"""Intake POST → routing assignment latency on PostgreSQL + Kafka (the production path), printed as figures.

Starts the suite as real processes (gunicorn web + workers) on fresh databases and a fresh topic prefix,
POSTs demands at a steady rate over HTTP, and watches demand.events for each demand's `assigned` event.
Latency = time the assigned event was seen − time the POST was sent. Needs `make servers` first.

    .venv/bin/python bench/e2e_latency.py --demands 500 --rate 50
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
import urllib.request
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml
from kafka import KafkaConsumer
from sqlalchemy import create_engine, text

from devstack import environments
from devstack.seed import seed
from devstack.stack import Stack
from shared.auth import issue_token
from shared.config import Settings
from shared.contracts import events
from shared.contracts.events import DEMAND_EVENTS
from shared.messaging.backends import ensure_topics


def body(i: int, street: str, uscc: str) -> bytes:
    return json.dumps({
        "channel": "grid", "street": street, "category": "taxation", "complexity": "simple",
        "title": f"基准测试需求 {i}", "description": "bench", "enterprise": {
            "name": "基准企业", "uscc": uscc, "contact_name": "测试", "contact_phone": "13812345678"},
    }).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demands", type=int, default=500)
    parser.add_argument("--rate", type=float, default=50.0, help="POSTs per second")
    parser.add_argument("--base-port", type=int, default=18001)
    args = parser.parse_args()

    with TemporaryDirectory() as tmp:
        env = environments.production(Path(tmp), "bench", base_port=args.base_port)
        stack = Stack(env, log_dir=Path(tmp) / "logs")
        settings: Settings = stack.settings
        try:
            seed(settings)
            # Measure latency, not the roster: no officer may fill up during the run (capacity is a rule
            # tested elsewhere; a full street would send demands to its unassigned queue instead).
            routing_db = create_engine(settings.database_url("routing"))
            with routing_db.begin() as conn:
                conn.execute(text("UPDATE officers SET capacity = 1000000"))
            routing_db.dispose()
            ensure_topics(settings)
            stack.start()
            seen: dict[str, float] = {}
            consumer = KafkaConsumer(settings.topic(DEMAND_EVENTS), bootstrap_servers=settings.kafka_bootstrap_servers,
                                     auto_offset_reset="latest", fetch_max_wait_ms=5, group_id=None)
            consumer.poll(timeout_ms=1000)  # join and position at the end before sending
            stop = threading.Event()

            def watch() -> None:
                while not stop.is_set():
                    for records in consumer.poll(timeout_ms=50).values():
                        now = time.perf_counter()
                        for r in records:
                            if dict(r.headers).get("ce_type") == events.ASSIGNED.encode() and \
                                    json.loads(r.value).get("officer_id"):
                                seen.setdefault(r.key.decode(), now)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            enterprises = yaml.safe_load(settings.enterprises_path.read_text(encoding="utf-8"))["enterprises"]
            by_street = {e["street"]: e["uscc"] for e in enterprises if not e.get("key_enterprise")}
            callers = [(street, uscc, issue_token("grid_worker", f"bench-grid-{street}", street,
                                                  secret=settings.jwt_secret)) for street, uscc in by_street.items()]
            url = f"{settings.service_urls['intake']}/api/v1/demands"
            sent: dict[str, float] = {}
            interval = 1.0 / args.rate
            start = time.perf_counter()
            for i in range(args.demands):
                target = start + i * interval
                delay = target - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                street, uscc, token = callers[i % len(callers)]
                req = urllib.request.Request(url, data=body(i, street, uscc), method="POST", headers={
                    "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
                t0 = time.perf_counter()
                with urllib.request.urlopen(req, timeout=10) as resp:
                    sent[json.loads(resp.read())["id"]] = t0
            deadline = time.perf_counter() + 30
            while len(set(sent) & set(seen)) < len(sent) and time.perf_counter() < deadline:
                time.sleep(0.1)
            stop.set()
            watcher.join()
            consumer.close()
            latencies = sorted((seen[d] - t0) * 1000 for d, t0 in sent.items() if d in seen)
            if not latencies:
                raise SystemExit("no demand was assigned: see the logs")
            p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
            print(f"intake POST -> routing assigned (Kafka + PostgreSQL), {len(latencies)}/{len(sent)} demands "
                  f"at {args.rate:.0f}/s")
            print(f"  median {statistics.median(latencies):.1f} ms   p99 {p99:.1f} ms   max {latencies[-1]:.1f} ms")
        finally:
            stack.stop()
            environments.drop(env)


if __name__ == "__main__":
    main()
