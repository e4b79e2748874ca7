"""What the whole suite costs doing nothing: CPU (% of one core) and resident memory of every process.

Starts the suite as ``make run`` does (three gunicorn web services and three workers) on the embedded default
or in production mode (PostgreSQL + Kafka, fresh databases and topics), lets it settle, then reads each
process's CPU seconds from ``/proc`` over ``--seconds`` of idleness: the suite's processes (gunicorn workers
included) and, in production mode, the PostgreSQL server and the Kafka broker it shares.

    .venv/bin/python bench/idle_cpu.py --mode embedded
    .venv/bin/python bench/idle_cpu.py --mode production
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.procs import SERVERS, TICKS, processes, rss, stat  # noqa: E402 - the script runs from the checkout
from devstack import environments  # noqa: E402
from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from shared.messaging.backends import ensure_topics  # noqa: E402


def measure(named: dict[int, str], seconds: float) -> tuple[dict[str, float], dict[str, int]]:
    before = {pid: s[1] for pid in named if (s := stat(pid)) is not None}
    time.sleep(seconds)
    cpu: dict[str, float] = {}
    memory: dict[str, int] = {}
    for pid, name in named.items():
        after = stat(pid)
        if after is None or pid not in before:
            continue
        cpu[name] = cpu.get(name, 0.0) + (after[1] - before[pid]) / TICKS / seconds * 100
        memory[name] = memory.get(name, 0) + rss(pid)
    return cpu, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("embedded", "production"), default="embedded")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--base-port", type=int, default=18101)
    args = parser.parse_args()

    with TemporaryDirectory() as tmp:
        var = Path(tmp)
        if args.mode == "embedded":
            env = {**environments.embedded(var), **{f"{s.upper()}_PORT": str(args.base_port + i)
                                                   for i, s in enumerate(("intake", "routing", "sla"))}}
        else:
            env = environments.production(var, "idle", base_port=args.base_port)
        stack = Stack(env, log_dir=var / "logs")
        try:
            seed(stack.settings)
            if args.mode == "production":
                ensure_topics(stack.settings)
            stack.start()
            time.sleep(args.settle)
            named = processes({name: proc.pid for name, proc in stack.procs.items()}, args.mode == "production")
            cpu, rss = measure(named, args.seconds)
        finally:
            stack.stop()
            if args.mode == "production":
                environments.drop(env)
    print(f"idle {args.mode}: {args.seconds:g} s after {args.settle:g} s of settling")
    for name in sorted(cpu, key=lambda n: -cpu[n]):
        print(f"  {name:<16} {cpu[name]:6.1f} % of a core   {rss[name] / 2**20:7.0f} MiB resident")
    suite = [n for n in cpu if n not in SERVERS]
    print(f"  {'suite total':<16} {sum(cpu[n] for n in suite):6.1f} % of a core   "
          f"{sum(rss[n] for n in suite) / 2**20:7.0f} MiB resident")
    print(f"  {'everything':<16} {sum(cpu.values()):6.1f} % of a core")


if __name__ == "__main__":
    main()
