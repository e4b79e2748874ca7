"""Re-timing open clocks when an operator enters a year's calendar, on PostgreSQL (issue 16).

Bulk-inserts ``--open-clocks`` open clocks (two per demand) reported through January 2027 on China's calendar
(2027 estimated: 春节 除夕 02-05 to 初三 02-08 off), then enters a made-up official 2027 (02-05 to 02-12 off,
Saturday 02-20 worked) in the platform store and lets ``--workers`` concurrent re-timers
(``sla_service.commands.retime_clocks``, as each SLA worker's timer runs it) drain the clocks. Printed: how
long until every clock follows the new revision, clocks per second, how many deadlines moved (each announced
once in the outbox), and the idle cost of the follower (a round that finds nothing).

    .venv/bin/python bench/retime_bench.py                       # 100,000 open clocks, 2 re-timers
    .venv/bin/python bench/retime_bench.py --open-clocks 20000   # while developing
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import func, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.sla_bench import (  # noqa: E402 - the script runs from the checkout
    CLOCK_COLUMNS,
    DEMAND_COLUMNS,
    SHIPPED_POLICY,
    copy_rows,
    drop_database,
    fresh_database,
    settings_for,
)
from shared.calendar import SHANGHAI, BusinessCalendar  # noqa: E402
from shared.calendar_store import CalendarStore  # noqa: E402
from shared.contracts.reference import CATEGORIES, STREETS  # noqa: E402
from sla_service.bootstrap import bootstrap  # noqa: E402
from sla_service.commands import retime_clocks  # noqa: E402
from sla_service.domain.clock import Clock  # noqa: E402
from sla_service.domain.compliance import report_day  # noqa: E402
from sla_service.model import ClockRow, outbox  # noqa: E402
from sla_service.reference import load_policy  # noqa: E402

COMPLEXITY_DAYS = {"simple": 5, "complex": 10, "difficult": 30}


def rows(calendar: BusinessCalendar, demands: int, fraction: float) -> tuple[list[tuple], list[tuple]]:
    """Demands reported every few minutes of January 2027's working hours, each with two running clocks."""
    day = calendar.seconds_per_working_day
    start = datetime(2027, 1, 4, 9, tzinfo=SHANGHAI)
    streets, categories, kinds = list(STREETS), list(CATEGORIES), list(COMPLEXITY_DAYS)
    demand_rows, clock_rows = [], []
    for i in range(demands):
        reported = calendar.add_business_seconds(start, (i * 20 * day // demands))  # across 20 working days
        demand_id = str(uuid.UUID(int=i + 1))
        street, complexity = streets[i % len(streets)], kinds[i % 3]
        demand_rows.append((demand_id, street, "grid", categories[i % len(categories)], complexity, False,
                            reported, report_day(reported), "open", None, None))
        for kind, target in (("first_response", 10 * day), ("resolution", COMPLEXITY_DAYS[complexity] * day)):
            clock = Clock(kind=kind, business_seconds_target=target, started_at=reported, running_since=reported)
            clock_rows.append((demand_id, kind, street, reported, "running", target, 0.0, reported, reported,
                               None, clock.target_at(calendar), None, False, False,
                               clock.next_fire_at(calendar, fraction)))
    return demand_rows, clock_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--open-clocks", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="concurrent re-timers (SLA worker processes)")
    args = parser.parse_args()

    url = fresh_database("retime")
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        settings = settings_for(url, tmp, "sqlite")
        store = CalendarStore.open(settings.auth_database_url)
        calendar = BusinessCalendar(source=store)
        policy = load_policy(SHIPPED_POLICY, calendar.seconds_per_working_day)
        start = datetime(2027, 1, 4, 9, tzinfo=SHANGHAI)
        ctx = bootstrap(settings, calendar=calendar, policy=policy, now=lambda: start)
        try:
            demands = args.open_clocks // 2
            print(f"retime: inserting {demands:,} demands / {demands * 2:,} open clocks (January 2027) ...")
            demand_rows, clock_rows = rows(calendar, demands, ctx.policy.warning_fraction)
            copy_rows(ctx.engine, "timed_demands", DEMAND_COLUMNS, demand_rows)
            copy_rows(ctx.engine, "clocks", CLOCK_COLUMNS, clock_rows)
            with ctx.engine.begin() as conn:
                conn.execute(text("ANALYZE"))

            t0 = time.perf_counter()
            idle_rounds = 200
            for _ in range(idle_rounds):  # the follower's round when nothing was entered (revision 0)
                retime_clocks(ctx, ctx.sessions)
            idle = (time.perf_counter() - t0) / idle_rounds

            store.enter(2027, [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 13))], [date(2027, 2, 20)],
                        "bench")
            calendar.refresh()
            handled = [0] * args.workers

            def drain(n: int) -> None:
                while done := retime_clocks(ctx, ctx.sessions):
                    handled[n] += done

            cpu0, t0 = time.process_time(), time.perf_counter()
            threads = [threading.Thread(target=drain, args=(n,)) for n in range(args.workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
            with ctx.sessions() as session:
                stale = session.scalar(select(func.count()).select_from(ClockRow).where(
                    ClockRow.next_fire_at.is_not(None), ClockRow.calendar_revision < calendar.revision))
                announced = session.scalar(select(func.count()).select_from(outbox))
            print(f"  idle follower round (revision 0): {idle * 1000:.2f} ms")
            print(f"  re-timed {sum(handled):,} clocks in {elapsed:.1f} s with {args.workers} re-timers "
                  f"({sum(handled) / elapsed:,.0f} clocks/s; this process's CPU {cpu:.1f} s)")
            print(f"  deadlines moved and announced once: {announced:,}; clocks left on the old revision: {stale}")
        finally:
            ctx.engine.dispose()
            drop_database(url)


if __name__ == "__main__":
    main()
