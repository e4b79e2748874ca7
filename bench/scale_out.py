"""Scale-out on 6 partitions: routing and SLA go from one worker process each to two while the load runs.

Production mode (PostgreSQL + Kafka, topics of 6 partitions, 2 gunicorn workers per service). Clients POST
at ``--rate`` for ``--seconds``; at a third of the run a second routing and a second SLA worker join their
groups (a rebalance under load), at two thirds the first routing worker is killed with SIGKILL (its
partitions move once its session times out). Then the pipeline drains and the run is audited:
- conservation: every demand answered 201 routed once, both clocks, projected back to intake, nothing stuck;
- order per demand: each demand's events sit in one partition of each topic, ``submitted`` before
  ``assigned``, and SLA's clock events for a demand carry non-decreasing instants (``at``) in log order;
- who did the work: events handled per worker process (from each one's metrics endpoint).

    .venv/bin/python bench/scale_out.py --rate 40 --seconds 45      (needs `make servers`)
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402 - the script runs from the checkout

from bench.conservation import Load, audit, drained, wait_until  # noqa: E402
from devstack import environments  # noqa: E402
from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.contracts import events  # noqa: E402
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS  # noqa: E402
from shared.messaging.backends import ensure_topics, read_topic  # noqa: E402


def order_problems(settings: Settings, ids: set[str]) -> list[str]:
    """Where a demand's events are split over partitions or out of their causal order (empty: none)."""
    problems: list[str] = []
    for topic in (DEMAND_EVENTS, SLA_EVENTS):
        by_demand: dict[str, list] = defaultdict(list)
        for m in read_topic(settings, topic):
            if m.key in ids:
                by_demand[m.key].append(m)
        for demand_id, messages in by_demand.items():
            if len({m.partition for m in messages}) != 1:
                problems.append(f"{demand_id}: {topic} over several partitions")
                continue
            messages.sort(key=lambda m: m.offset)
            types = [m.headers.get("ce_type", b"").decode() for m in messages]
            if topic == DEMAND_EVENTS and events.ASSIGNED in types and \
                    types.index(events.ASSIGNED) < types.index(events.SUBMITTED):
                problems.append(f"{demand_id}: assigned before submitted")
            if topic == SLA_EVENTS:
                instants = [json.loads(m.value)["at"] for m in messages]
                if instants != sorted(instants):
                    problems.append(f"{demand_id}: clock events out of order")
    return problems


def handled_by(url: str) -> float:
    """Events a worker process handled, read from its metrics endpoint (0 when it is gone)."""
    try:
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
            lines = resp.read().decode().splitlines()
    except OSError:
        return 0.0
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines
               if line.startswith("yangpu_events_consumed_total{") and 'outcome="handled"' in line)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=60.0, help="POSTs per second in total")
    p.add_argument("--seconds", type=float, default=45.0)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--base-port", type=int, default=18601)
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with TemporaryDirectory() as tmp:
        env = {**environments.production(Path(tmp), "scale", base_port=args.base_port), "WEB_CONCURRENCY": "2"}
        stack = Stack(env, log_dir=Path(tmp) / "logs")
        settings = stack.settings
        try:
            seed(settings)
            routing_db = create_engine(settings.database_url("routing"))
            with routing_db.begin() as conn:  # the pipeline is measured, not the roster filling up
                conn.execute(text("UPDATE officers SET capacity = 1000000"))
            routing_db.dispose()
            ensure_topics(settings)
            stack.start()
            load = Load(settings, clients=args.clients, rate=args.rate)
            started = time.monotonic()
            load.start()
            time.sleep(args.seconds / 3)
            for service in ("routing", "sla"):
                stack.start_worker(service, instance=2)
            print(f"{time.monotonic() - started:5.1f} s: a second routing and a second SLA worker joined", flush=True)
            time.sleep(args.seconds / 3)
            stack.procs["routing-worker"].send_signal(signal.SIGKILL)
            print(f"{time.monotonic() - started:5.1f} s: the first routing worker was killed (SIGKILL)", flush=True)
            time.sleep(args.seconds / 3)
            load.stop()
            offered_s = time.monotonic() - started
            ids = load.ids
            drain_started = time.monotonic()
            wait_until(drained(settings, ids), 180)
            drain_s = time.monotonic() - drain_started
            result = audit(settings, ids)
            ports = settings.worker_metrics_ports
            work = {f"{s} worker {i}": handled_by(f"http://127.0.0.1:{ports[s] + 10 * (i - 1)}")
                    for s in ("routing", "sla") for i in (1, 2)}
            problems = order_problems(settings, ids)
            print(f"{len(ids)} demands accepted in {offered_s:.0f} s ({len(ids) / offered_s:.0f}/s offered "
                  f"{args.rate:g}/s), drained {drain_s:.1f} s after the load stopped")
            print(f"  {result.line()}")
            print("  events handled per process since it started: "
                  + ", ".join(f"{k} {v:.0f}" for k, v in work.items()) + " (worker 1 of routing was killed)")
            print(f"  order per demand: {len(problems)} problems {problems[:5]}")
            if not result.ok or problems:
                raise SystemExit(1)
        finally:
            stack.stop()
            environments.drop(env)


if __name__ == "__main__":
    main()
