"""Routing benchmark on PostgreSQL + Kafka: routing decisions per second, and the queue endpoint's latency.

1. Decisions/s: W routing worker processes (``python -m routing_service.worker``, one consumer group) are
   started on a fresh Kafka topic set and warmed up; then N ``submitted`` events are published and the clock
   runs until the last assignment is committed (consume, lock officers, decide, insert, outbox, relay).
   ``--mode handler`` times the handler path alone, in one transaction per demand, without Kafka.
2. Queue latency: the assignments table is bulk-loaded (``INSERT ... SELECT generate_series``) with
   ``--total`` demands, ``--officer-open`` of them open for one officer, and ``GET /api/v1/queue`` (first
   page, 50 items) is timed through the Flask app in-process (no HTTP server in the way) ``--queries`` times.

Every run uses a fresh database (dropped afterwards unless ``--keep``) and its own topic prefix. Run small
while developing, e.g. ``--decisions 300 --total 20000 --queries 100``; the defaults are the full size.
Every officer's capacity is raised so that each decision assigns (the costlier path: it updates an officer).
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, func, select, text, update

from devstack.migrate import upgrade
from routing_service.bootstrap import Context, bootstrap
from routing_service.commands import route_demand
from routing_service.model import Assignment, Officer
from routing_service.reference import load_roster
from shared.auth import issue_token
from shared.config import PROJECT_ROOT, Settings
from shared.contracts import events
from shared.contracts.events import new_event
from shared.contracts.reference import CATEGORIES, STREETS
from shared.db import make_engine, unit_of_work
from shared.messaging.backends import ensure_topics, make_producer
from shared.messaging.bus import OutgoingMessage
from shared.messaging.codec import to_message

PG_ADMIN = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432/postgres")
TARGET_OFFICER = "com-wujiaochang-1"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--decisions", type=int, default=5000, help="submitted events to route (0 to skip)")
    p.add_argument("--workers", type=int, default=2, help="routing workers in the consumer group")
    p.add_argument("--mode", choices=["worker", "handler"], default="worker")
    p.add_argument("--total", type=int, default=1_000_000, help="demands stored for the queue test (0: skip)")
    p.add_argument("--officer-open", type=int, default=1000, help="open demands of the queried officer")
    p.add_argument("--queries", type=int, default=1000, help="queue requests to time")
    p.add_argument("--pg-admin-url", default=PG_ADMIN)
    p.add_argument("--kafka", default=os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--metrics-port", type=int, default=19400, help="first worker process's metrics port")
    p.add_argument("--keep", action="store_true", help="keep the database")
    return p.parse_args()


def submitted(rng: random.Random) -> dict:
    """A demand mix: mostly grid, some hotline, fallback window and key enterprises."""
    street = rng.choice(list(STREETS))
    roll = rng.random()
    channel = "hotline_12345" if roll < 0.1 else "fallback_window" if roll < 0.2 else "grid"
    key = 0.2 <= roll < 0.3
    now = datetime.now(UTC)
    return {"demand_id": str(uuid.uuid4()), "channel": channel, "street": street, "grid": None,
            "category": rng.choice(list(CATEGORIES)), "complexity": "simple", "title": "基准测试诉求",
            "enterprise": {"uscc": "91310110MA4PFF8Q3P", "name": "基准企业", "key_enterprise": key,
                           "chief_officer_id": f"cso-{street}" if key else None},
            "reported_at": now, "received_at": now}


def _publish(settings: Settings, demands: list[dict]) -> float:
    """Put the demands on the bus as intake would; returns how long the producer took."""
    producer = make_producer(settings, "bench")
    messages = [to_message(new_event(events.SUBMITTED, d, source="/bench")) for d in demands]
    started = time.perf_counter()
    producer.send_batch([OutgoingMessage("demand.events", m.key, dict(m.headers), m.value) for m in messages])
    producer.close()
    return time.perf_counter() - started


def _wait_routed(sessions, count: int, timeout_s: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while True:
        with unit_of_work(sessions) as session:
            if session.scalar(select(func.count()).select_from(Assignment)) >= count:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {count} demands routed after {timeout_s:.0f}s")
        time.sleep(0.05)


def bench_decisions(settings: Settings, env: dict[str, str], ctx: Context, n: int, workers: int,
                    mode: str, metrics_port: int) -> None:
    sessions = ctx.sessions
    rng = random.Random(7)
    demands = [submitted(rng) for _ in range(n)]
    if mode == "handler":
        started = time.perf_counter()
        for d in demands:
            with unit_of_work(sessions) as session:
                route_demand(ctx, session, d)
        elapsed = time.perf_counter() - started
        print(f"routing decisions (handler path, 1 connection): {n} in {elapsed:.2f}s = {n / elapsed:.0f}/s")
        return
    ensure_topics(settings)
    procs = [subprocess.Popen([sys.executable, "-m", "routing_service.worker"], cwd=PROJECT_ROOT,
                              env={**os.environ, **env, "ROUTING_WORKER_METRICS_PORT": str(metrics_port + i)})
             for i in range(workers)]
    try:
        # Warm up until the consumer group has settled (every worker joined, no rebalance under way).
        warm = [submitted(rng) for _ in range(24)]
        _publish(settings, warm)
        _wait_routed(sessions, len(warm), 90)
        time.sleep(8)
        since = datetime.now(UTC)
        published = _publish(settings, demands)
        started = time.perf_counter() - published
        _wait_routed(sessions, len(warm) + n, 600)
        elapsed = time.perf_counter() - started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(timeout=30)
    with unit_of_work(sessions) as session:
        first, last = session.execute(select(func.min(Assignment.updated_at), func.max(Assignment.updated_at))
                                      .where(Assignment.updated_at >= since)).one()
    steady = (n - 1) / max((last - first).total_seconds(), 1e-6)
    print(f"routing decisions ({workers} worker process(es), Kafka + PostgreSQL): {n} in {elapsed:.2f}s from the "
          f"first publish = {n / elapsed:.0f}/s (publishing took {published:.2f}s); "
          f"first to last decision: {steady:.0f}/s")


LOAD_SQL = """
INSERT INTO assignments (demand_id, street, channel, category, complexity, title, enterprise_uscc, key_enterprise,
  chief_officer_id, state, is_open, officer_id, officer_kind, department, rule, assigned_at, reported_at, updated_at,
  escalated, escalated_to, auto_escalated, outcome, resolution_note, satisfaction, reopen_count,
  first_response_due, resolution_due, next_due, sla)
SELECT md5(:tag || i::text)::uuid::text,
  (ARRAY['dinghai','daqiao','pingliang','jiangpu','kongjiang','yanji','changbai','siping','yinhang',
         'wujiaochang','changhai','xinjiangwan'])[1 + i % 12],
  'grid', 'taxation', 'simple', '基准测试诉求', '91310110MA4PFF8Q3P', false, NULL,
  CASE WHEN :open_every > 0 AND i % :open_every = 0 THEN 'acknowledged' ELSE 'closed' END,
  :open_every > 0 AND i % :open_every = 0,
  CASE WHEN :officer = '' THEN 'bench-' || (i % 400) ELSE :officer END,
  'street_commissioner', NULL, 'street_commissioner', now(), now() - interval '1 day', now(),
  false, NULL, false, NULL, NULL, NULL, 0,
  now() + ((i::bigint * 7919) % 100000) * interval '1 second',
  now() + ((i::bigint * 7919) % 100000) * interval '1 minute',
  CASE WHEN :open_every > 0 AND i % :open_every = 0
       THEN now() + ((i::bigint * 7919) % 100000) * interval '1 minute' END,
  CAST(:sla AS json)
FROM generate_series(1, :n) AS i
"""
SLA_JSON = ('{"first_response": {"kind": "first_response", "status": "met", "target_at": "2026-12-01T01:00:00+00:00",'
            ' "business_seconds_used": 1200.0, "business_seconds_target": 28800, "at": "2026-11-30T01:20:00+00:00"},'
            ' "resolution": {"kind": "resolution", "status": "running", "target_at": "2026-12-07T09:00:00+00:00",'
            ' "business_seconds_used": 3600.0, "business_seconds_target": 144000, "at": "2026-11-30T02:00:00+00:00"}}')


def bench_queue(settings: Settings, engine, total: int, officer_open: int, queries: int) -> None:  # noqa: ANN001
    from routing_service.app import create

    others = max(0, total - officer_open)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        # the rest: 400 other officers, one demand in ten still open
        conn.execute(text(LOAD_SQL), {"tag": "o", "n": others, "open_every": 10, "officer": "", "sla": SLA_JSON})
        conn.execute(text(LOAD_SQL), {"tag": "t", "n": officer_open, "open_every": 1, "officer": TARGET_OFFICER,
                                      "sla": SLA_JSON})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE assignments"))
    print(f"loaded {others + officer_open} demands in {time.perf_counter() - started:.1f}s")

    app = create(settings)
    client = app.test_client()
    headers = {"Authorization": "Bearer " + issue_token("officer", TARGET_OFFICER, secret=settings.jwt_secret)}
    first = client.get("/api/v1/queue", headers=headers)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["total"] == officer_open, first.get_json()["total"]
    for _ in range(20):  # warm the pool and caches
        client.get("/api/v1/queue", headers=headers)
    timings = []
    for _ in range(queries):
        t0 = time.perf_counter()
        resp = client.get("/api/v1/queue", headers=headers)
        timings.append((time.perf_counter() - t0) * 1000)
        assert resp.status_code == 200
    timings.sort()
    p50 = statistics.median(timings)
    p99 = timings[min(len(timings) - 1, int(len(timings) * 0.99))]
    print(f"GET /api/v1/queue (first page of 50, officer with {officer_open} open among {others + officer_open}): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {timings[-1]:.1f} ms over {queries} requests")
    with engine.connect() as conn:
        plan = conn.execute(text(
            "EXPLAIN SELECT * FROM assignments WHERE officer_id = :o AND is_open = true "
            "ORDER BY next_due ASC NULLS LAST, demand_id LIMIT 50"), {"o": TARGET_OFFICER}).scalars().all()
    print("plan: " + " | ".join(line.strip() for line in plan[:3]))


def main() -> None:
    args = parse_args()
    run = uuid.uuid4().hex[:10]
    name = f"bench_routing_{run}"
    admin = create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    env = {"YANGPU_MODE": "production", "ROUTING_DATABASE_URL": url, "EVENT_BUS": "kafka",
           "KAFKA_BOOTSTRAP_SERVERS": args.kafka, "TOPIC_PREFIX": f"b{run}.",
           "JWT_SECRET": f"bench-secret-{run}-0123456789abcdef", "LOG_LEVEL": "WARNING"}
    settings = Settings.from_env(env)
    engine = make_engine(url)
    try:
        upgrade("routing", url)
        ctx = bootstrap(settings)
        with unit_of_work(ctx.sessions) as session:
            load_roster(session, PROJECT_ROOT / "deploy" / "roster.yaml")
            # room for everyone, so every decision assigns (the costlier path: it updates an officer row)
            session.execute(update(Officer).values(capacity=10_000_000))
        if args.decisions:
            bench_decisions(settings, env, ctx, args.decisions, args.workers, args.mode, args.metrics_port)
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE assignments, processed_events, outbox"))
                conn.execute(update(Officer).values(open_count=0))
        if args.total:
            bench_queue(settings, engine, args.total, args.officer_open, args.queries)
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
