"""CPU seconds and resident memory of processes, read from ``/proc``: what the benches charge each part.

    .venv/bin/python bench/procs.py snapshot FILE   # CPU ticks of every classified process, as JSON
    .venv/bin/python bench/procs.py diff A B N      # CPU seconds per part between two snapshots, ms per N items
    .venv/bin/python bench/procs.py diff A B N --json  # the same as JSON members, for a results row
    .venv/bin/python bench/procs.py medians TSV     # the median of every figure over the runs of a results file

Processes are named by what they run (their command line), so gunicorn's forked workers count with their
service and a peer system measured by the same script is charged the same way.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SERVERS = ("postgresql", "kafka broker")


def stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, CPU ticks, command line) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12]), cmd


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def part(cmd: str) -> str | None:
    """The part of a system a command line belongs to, or None for a process no bench charges."""
    if cmd.startswith("postgres") or "/bin/postgres" in cmd:
        return "postgresql"
    if "kafka.Kafka" in cmd:
        return "kafka broker"
    if "benchsite.wsgi" in cmd:
        return "django-helpdesk web"
    for service in ("intake", "routing", "sla"):
        if f"{service}_service.worker" in cmd:
            return f"{service} worker"
        if "gunicorn" in cmd and f"{service}_service" in cmd:
            return f"{service} web"
    return None


def processes(roots: dict[str, int] | None = None, servers: bool = True) -> dict[int, str]:
    """The processes below ``roots`` (named by what they run, else by their root), or with no roots every
    process of a known part; plus the PostgreSQL server's and the broker's when ``servers``."""
    stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := stat(int(p))) is not None}
    named: dict[int, str] = {}
    if roots:
        below = {pid: name for name, pid in roots.items()}
        changed = True
        while changed:
            changed = False
            for pid, (parent, _ticks, _cmd) in stats.items():
                if pid not in below and parent in below:
                    below[pid] = below[parent]
                    changed = True
        named = {pid: part(stats[pid][2]) or name for pid, name in below.items() if pid in stats}
    else:
        named = {pid: name for pid, (_p, _t, cmd) in stats.items()
                 if (name := part(cmd)) is not None and name not in SERVERS}
    if servers:
        named.update({pid: name for pid, (_p, _t, cmd) in stats.items() if (name := part(cmd)) in SERVERS})
    return named


def snapshot(named: dict[int, str] | None = None) -> dict[str, int]:
    """CPU ticks per process, keyed "pid name" (a process that exits between snapshots drops out)."""
    named = processes() if named is None else named
    return {f"{pid} {name}": s[1] for pid, name in named.items() if (s := stat(pid)) is not None}


def cpu_seconds(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    """CPU seconds per part between two snapshots (processes born in between count from zero)."""
    spent: dict[str, float] = {}
    for key, ticks in after.items():
        name = key.split(" ", 1)[1]
        spent[name] = spent.get(name, 0.0) + (ticks - before.get(key, 0)) / TICKS
    return spent


def table(spent: dict[str, float], items: int) -> list[str]:
    """Lines "part  CPU s  ms per item", largest first, with the total."""
    lines = [f"  {name:<22} {s:7.2f} s  {1000 * s / max(items, 1):6.2f} ms per demand"
             for name, s in sorted(spent.items(), key=lambda kv: -kv[1])]
    total = sum(spent.values())
    lines.append(f"  {'total':<22} {total:7.2f} s  {1000 * total / max(items, 1):6.2f} ms per demand")
    return lines


def per_item(spent: dict[str, float], items: int) -> dict[str, object]:
    """The members a results row carries: total CPU ms per item and the same per part."""
    return {"cpu_ms_per_demand": round(1000 * sum(spent.values()) / max(items, 1), 2),
            "cpu": {name: round(1000 * s / max(items, 1), 2) for name, s in spent.items()}}


def medians(tsv: Path) -> list[str]:
    """One line per row label: the median over its runs of every number it carries (CPU parts included)."""
    runs: dict[str, list[dict[str, object]]] = {}
    for line in tsv.read_text().splitlines():
        label, _, row = line.partition("\t")
        if row:
            runs.setdefault(label, []).append(json.loads(row))
    lines = []
    for label, rows in runs.items():
        flat = [{**{k: v for k, v in r.items() if k != "cpu"},
                 **{f"cpu {k}": v for k, v in dict(r.get("cpu") or {}).items()}} for r in rows]
        keys = dict.fromkeys(k for r in flat for k in r)
        figures = {k: statistics.median(vals) for k in keys
                   if (vals := [r[k] for r in flat if isinstance(r.get(k), int | float)])}
        lines.append(f"{label} (median of {len(rows)}): " + ", ".join(f"{k} {v:g}" for k, v in figures.items()))
    return lines


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["snapshot"] and len(args) == 2:
        Path(args[1]).write_text(json.dumps(snapshot()))
    elif args[:1] == ["diff"] and len(args) in (4, 5):
        spent = cpu_seconds(json.loads(Path(args[1]).read_text()), json.loads(Path(args[2]).read_text()))
        if args[4:] == ["--json"]:
            print(json.dumps(per_item(spent, int(args[3])))[1:-1])
        else:
            print("\n".join(table(spent, int(args[3]))))
    elif args[:1] == ["medians"] and len(args) == 2:
        print("\n".join(medians(Path(args[1]))))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
