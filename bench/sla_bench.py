"""SLA figures on PostgreSQL: breach-firing lag among many open clocks, and summary latency over many demands.

Part 1 -- lag: bulk-inserts ``--open-clocks`` open clocks (two per demand) into a fresh database; ``--due``
of them reach their targets spread over ``--spread`` seconds from a few seconds after the start (their 80 %
warnings fire along the way), the others not before days. The real worker loop (consumer, outbox relay,
timer) runs in a thread on the chosen bus; an observer reads ``sla.events``. Printed: the fire lag (the
breach event's ``at`` minus ``target_at``: when the timer wrote it), the delivery lag (when the observer
received it minus ``target_at``), the idle timer round, and the scrape-time collector over those clocks.

Part 2 -- summary: bulk-inserts ``--demands`` demands with their clocks, rebuilds the daily counts, and
times ``GET /api/v1/sla/summary`` (and the monthly CSV) in-process through the Flask app.

Every instant counts as business time here (an all-day calendar), so the lag part runs at any hour.

    .venv/bin/python bench/sla_bench.py                                     # full size (lead)
    .venv/bin/python bench/sla_bench.py --open-clocks 10000 --due 300 --demands 50000   # while developing
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

from devstack.migrate import upgrade
from shared.auth import issue_token
from shared.calendar import SHANGHAI, BusinessCalendar
from shared.config import Settings
from shared.contracts import events
from shared.contracts.events import SLA_EVENTS, load_data
from shared.contracts.reference import CATEGORIES, STREETS
from shared.contracts.vocabulary import CHANNELS
from shared.db import unit_of_work
from shared.messaging.backends import ensure_topics, make_consumer
from shared.messaging.codec import from_message
from shared.worker import Worker
from sla_service.bootstrap import Context, bootstrap, worker_spec
from sla_service.commands import fire_due_clocks
from sla_service.domain.clock import Clock
from sla_service.domain.compliance import report_day
from sla_service.metrics import OpenClocksCollector
from sla_service.reference import load_policy
from sla_service.repository import rebuild_counts

PG = os.environ.get("BENCH_PG_URL", "postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432")
SHIPPED_POLICY = Path(__file__).resolve().parents[1] / "deploy" / "sla_policy.yaml"
DEMAND_COLUMNS = ("demand_id", "street", "channel", "category", "complexity", "key_enterprise", "reported_at",
                  "report_day", "state", "outcome", "closed_at")
CLOCK_COLUMNS = ("demand_id", "kind", "street", "reported_at", "status", "business_seconds_target",
                 "business_seconds_used", "started_at", "running_since", "stopped_at", "target_at", "breached_at",
                 "warned", "breach_emitted", "next_fire_at")


# ------------------------------------------------------------------ set-up helpers


def fresh_database(label: str) -> str:
    name = f"bench_sla_{label}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = f"{PG}/{name}"
    upgrade("sla", url)
    return url


def drop_database(url: str) -> None:
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def all_day_context(tmp: Path, settings: Settings) -> Context:
    """SLA's context on ``settings``: every instant of the next weeks is business time; the shipped policy."""
    today = datetime.now(SHANGHAI).date()
    overrides = tmp / "calendar_overrides.yaml"
    overrides.write_text("workdays: [" + ", ".join((today + timedelta(days=i)).isoformat()
                                                   for i in range(-1, 40)) + "]\n", encoding="utf-8")
    cal = BusinessCalendar(overrides, day_start=dtime(0), day_end=dtime(23, 59, 59, 999999))
    return bootstrap(settings, calendar=cal, policy=load_policy(SHIPPED_POLICY, cal.seconds_per_working_day))


def settings_for(url: str, tmp: Path, bus: str) -> Settings:
    run = uuid.uuid4().hex[:8]
    return Settings.from_env({
        "YANGPU_MODE": "production", "VAR_DIR": str(tmp), "EVENT_BUS": bus, "SLA_DATABASE_URL": url,
        "TOPIC_PREFIX": f"benchsla{run}.", "JWT_SECRET": f"bench-secret-{run}-0123456789abcdef",
        "LOG_LEVEL": "WARNING",
        "KAFKA_BOOTSTRAP_SERVERS": os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
    })


def _cell(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def copy_rows(engine: Engine, table: str, columns: tuple[str, ...], rows: Iterable[tuple]) -> int:
    """Bulk-load with PostgreSQL COPY (orders of magnitude faster than INSERTs for a million rows)."""
    count = 0
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_cell(v) for v in row) + "\n")
                count += 1
                if count % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        raw.commit()
    finally:
        raw.close()
    return count


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"median {statistics.median(ordered) * 1000:8.1f} ms   p99 {p99 * 1000:8.1f} ms   "
            f"max {ordered[-1] * 1000:8.1f} ms   (n={len(ordered)})")


# ------------------------------------------------------------------ part 1: breach-firing lag


def open_clock_rows(ctx: Context, demands: int, due: int, lead: int, spread: float,
                    start: datetime) -> tuple[list[tuple], list[tuple]]:
    """Demands with two running clocks; the first ``due`` first-response clocks run out during the run.

    Those start staggered over ``spread`` seconds with a target of ``lead`` seconds, so their deadlines
    are spread too; every other clock has days to go.
    """
    cal, fraction = ctx.calendar, ctx.policy.warning_fraction
    streets, categories = list(STREETS), list(CATEGORIES)
    far = 10 * cal.seconds_per_working_day
    demand_rows, clock_rows = [], []
    for i in range(demands):
        demand_id = str(uuid.UUID(int=i + 1))
        street = streets[i % len(streets)]
        demand_rows.append((demand_id, street, "grid", categories[i % len(categories)], "simple", False, start,
                            report_day(start), "open", None, None))
        for kind in ("first_response", "resolution"):
            soon = i < due and kind == "first_response"
            began = start + timedelta(seconds=spread * i / due) if soon else start
            clock = Clock(kind=kind, business_seconds_target=lead if soon else far, started_at=began,
                          running_since=began)
            clock_rows.append((demand_id, kind, street, start, "running", clock.business_seconds_target, 0.0,
                               began, began, None, clock.target_at(cal), None, False, False,
                               clock.next_fire_at(cal, fraction)))
    return demand_rows, clock_rows


def bench_lag(args: argparse.Namespace, tmp: Path) -> None:
    url = fresh_database("lag")
    settings = settings_for(url, tmp, args.bus)
    ctx = all_day_context(tmp, settings)
    engine = ctx.engine
    try:
        ensure_topics(settings)
        demands = args.open_clocks // 2
        start = datetime.now(UTC)
        print(f"lag: inserting {demands:,} demands / {demands * 2:,} open clocks; {args.due:,} breach over "
              f"{args.spread:g} s from +{args.lead} s ...")
        demand_rows, clock_rows = open_clock_rows(ctx, demands, args.due, args.lead, args.spread, start)
        copy_rows(engine, "timed_demands", DEMAND_COLUMNS, demand_rows)
        copy_rows(engine, "clocks", CLOCK_COLUMNS, clock_rows)
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        targets = {row[0]: row[10] for row in clock_rows if row[1] == "first_response"}
        setup = (datetime.now(UTC) - start).total_seconds()
        if setup > args.lead:
            print(f"  set-up took {setup:.1f} s, longer than the lead of {args.lead} s: the first breaches "
                  f"are already late; raise --lead")

        observer = make_consumer(settings, f"bench-observer-{uuid.uuid4().hex[:6]}", [SLA_EVENTS])
        worker = Worker(worker_spec(ctx), ctx)
        loop = threading.Thread(target=worker.run, name="sla-worker")
        loop.start()
        fire_lag, seen_lag = [], []
        deadline = time.monotonic() + args.lead + args.spread + 60
        while len(fire_lag) < args.due and time.monotonic() < deadline:
            records = observer.poll(0.05)
            received = datetime.now(UTC)
            for record in records:
                event = from_message(record.as_kafka_message())
                if event.get_type() != events.BREACHED:
                    continue
                data = load_data(event)
                if data["kind"] != "first_response":
                    continue
                target_at = targets[data["demand_id"]]
                fire_lag.append((data["at"] - target_at).total_seconds())
                seen_lag.append((received - target_at).total_seconds())
            if records:
                observer.commit(records)
        worker.stopping.set()
        loop.join()
        observer.close()
        print(f"  breaches seen: {len(fire_lag):,} of {args.due:,}")
        print(f"  fire lag      (event at - target_at)        {percentiles(fire_lag)}")
        print(f"  delivery lag  (observer got it - target_at) {percentiles(seen_lag)}")

        idle = []
        for _ in range(200):
            began = time.perf_counter()
            fire_due_clocks(ctx, ctx.sessions)
            idle.append(time.perf_counter() - began)
        print(f"  idle timer round (due query, nothing due)   {percentiles(idle)}")
        collector = OpenClocksCollector(engine)
        scrape = []
        for _ in range(20):
            began = time.perf_counter()
            list(collector.collect())
            scrape.append(time.perf_counter() - began)
        print(f"  scrape-time collector over open clocks      {percentiles(scrape)}")
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


# ------------------------------------------------------------------ part 2: summary latency


def history_rows(ctx: Context, demands: int, days: int, seed: int) -> Iterator[tuple[tuple, ...]]:
    """Demands reported over ``days`` days with plausible outcomes: (demand row, first clock, resolution clock)."""
    rnd = random.Random(seed)
    streets, categories = list(STREETS), list(CATEGORIES)
    end = datetime.now(UTC).replace(microsecond=0)
    for i in range(demands):
        demand_id = str(uuid.UUID(int=i + 1))
        street, channel, category = rnd.choice(streets), rnd.choice(CHANNELS), rnd.choice(categories)
        complexity = rnd.choices(("simple", "complex", "difficult"), (70, 25, 5))[0]
        reported = end - timedelta(seconds=rnd.randrange(days * 86_400))
        first_target = ctx.policy.first_response_seconds(channel)
        res_target = ctx.policy.resolution_seconds(complexity)
        first = rnd.choices(("met", "breached", "running"), (88, 10, 2))[0]
        resolution = rnd.choices(("met", "breached", "running", "paused"), (80, 8, 10, 2))[0]
        closed = resolution in ("met", "breached")
        outcome = rnd.choices(("resolved", "explained", "unresolvable"), (91, 7, 2))[0] if closed else None
        closed_at = reported + timedelta(days=3) if closed else None
        yield (
            (demand_id, street, channel, category, complexity, rnd.random() < 0.05, reported, report_day(reported),
             "resolved" if closed else "open", outcome, closed_at),
            _history_clock(demand_id, "first_response", street, reported, first, first_target),
            _history_clock(demand_id, "resolution", street, reported, resolution, res_target),
        )


def _history_clock(demand_id: str, kind: str, street: str, reported: datetime, status: str, target: int) -> tuple:
    open_ = status in ("running", "paused")
    stopped = None if open_ else reported + timedelta(hours=2)
    breached_at = reported + timedelta(hours=1) if status == "breached" else None
    used = target * (1.2 if status == "breached" else 0.5)
    running_since = reported if status == "running" else None
    return (demand_id, kind, street, reported, status, target, used, reported, running_since, stopped,
            None, breached_at, status != "running", status == "breached", None)


def bench_summary(args: argparse.Namespace, tmp: Path) -> None:
    url = fresh_database("summary")
    settings = settings_for(url, tmp, "sqlite")
    ctx = all_day_context(tmp, settings)
    engine = ctx.engine
    try:
        print(f"summary: inserting {args.demands:,} demands over {args.days} days ...")
        generated = list(history_rows(ctx, args.demands, args.days, seed=5))
        copy_rows(engine, "timed_demands", DEMAND_COLUMNS, (g[0] for g in generated))
        copy_rows(engine, "clocks", CLOCK_COLUMNS, (c for g in generated for c in g[1:]))
        del generated
        began = time.perf_counter()
        with unit_of_work(ctx.sessions) as session:
            rows = rebuild_counts(session)
        print(f"  daily counts rebuilt from every demand in {time.perf_counter() - began:.2f} s "
              f"({rows:,} rows; the summary reads these)")
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))

        from sla_service.app import create

        app = create(ctx=ctx)
        client = app.test_client()

        def auth(role: str, street: str | None = None) -> dict[str, str]:
            token = issue_token(role, f"bench-{role}", street, secret=settings.jwt_secret)
            return {"Authorization": f"Bearer {token}"}

        month_start = datetime.now(SHANGHAI).date().replace(day=1) - timedelta(days=1)
        month = month_start.strftime("%Y-%m")
        cases = [
            ("district, all time", "/api/v1/sla/summary", auth("admin"), {}),
            ("district, one month", "/api/v1/sla/summary", auth("admin"),
             {"from": month_start.replace(day=1).isoformat(), "to": month_start.isoformat()}),
            ("supervisor's street, all time", "/api/v1/sla/summary", auth("supervisor", "wujiaochang"), {}),
            ("street+channel+category, a year", "/api/v1/sla/summary", auth("admin"),
             {"street": "dinghai", "channel": "hotline_12345", "category": "taxation",
              "from": (date.today() - timedelta(days=365)).isoformat()}),
            (f"monthly report.csv ({month})", "/api/v1/sla/report.csv", auth("admin"), {"month": month}),
        ]
        for label, path, headers, params in cases:
            timings = []
            for _ in range(args.requests):
                began = time.perf_counter()
                resp = client.get(path, headers=headers, query_string=params)
                timings.append(time.perf_counter() - began)
                assert resp.status_code == 200, resp.get_data(as_text=True)
            print(f"  {label:34s} {percentiles(timings)}")
        total = client.get("/api/v1/sla/summary", headers=auth("admin")).get_json()["demands"]
        print(f"  (the district summary counts {total:,} demands)")
    finally:
        engine.dispose()
        if not args.keep:
            drop_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--open-clocks", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=2_000, help="clocks that breach during the run")
    parser.add_argument("--spread", type=float, default=20.0, help="seconds over which they breach")
    parser.add_argument("--lead", type=int, default=20, help="seconds before the first breach (covers set-up)")
    parser.add_argument("--bus", choices=("kafka", "sqlite"), default="kafka")
    parser.add_argument("--demands", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=730, help="report dates spread over this many days")
    parser.add_argument("--requests", type=int, default=50, help="requests per summary case")
    parser.add_argument("--skip", choices=("lag", "summary"), help="run only the other part")
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.skip != "lag":
            bench_lag(args, Path(tmp))
        if args.skip != "summary":
            bench_summary(args, Path(tmp))


if __name__ == "__main__":
    main()
