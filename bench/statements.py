"""SQL statements per demand, per service database: a count, not a timing. CPU time per demand varies by ±15 %
from run to run here, so a change that saves a few statements is lost in that noise; its statement count is not.
(Statements per batch — a transaction, a relay pass — are shared by the batch's demands, so the total still moves
a little with how many demands a run's batches hold.)

It turns on PostgreSQL's ``log_statement = 'all'`` (as the server's superuser, like ``bench/side_by_side.sh``),
runs ``bench/suite_side.py`` at one connection for a few seconds (the whole suite: web, workers, relays), turns
logging off again and counts the log's statements of each database, divided by the demands intake inserted.

    .venv/bin/python bench/statements.py            (after `make servers`; needs wrk)
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATEMENT = re.compile(r"^(\S+)\|LOG:  (?:statement|execute [^:]*): (.*)")
INSERT_DEMAND = "INSERT INTO demands ("


def superuser_sql(data_dir: Path, *statements: str) -> None:
    args = ["runuser", "-u", "postgres", "--", "psql", "-X", "-qtA", "-h", str(data_dir), "-p", "5432",
            "-U", "postgres", "-d", "postgres"]
    for statement in statements:
        args += ["-c", statement]
    subprocess.run(args, check=True, cwd="/", capture_output=True)


def shape(statement: str) -> str:
    """A statement's kind and table (column lists and values dropped), to group the counts."""
    statement = re.sub(r"^SELECT (\w+)\.\w+.*", r"SELECT … FROM \1", statement)  # the log breaks the line at FROM
    return re.split(r" \(| WHERE | VALUES|\$1", statement, maxsplit=1)[0][:60]


def count(log_text: str) -> tuple[collections.Counter[tuple[str, str]], int]:
    shapes: collections.Counter[tuple[str, str]] = collections.Counter()
    demands = 0
    for line in log_text.splitlines():
        if (match := STATEMENT.match(line)) is None:
            continue
        database, statement = match.group(1).rsplit("_", 1)[-1], match.group(2)
        shapes[(database, shape(statement))] += 1
        demands += database == "intake" and statement.startswith(INSERT_DEMAND)
    return shapes, demands


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", default="4s")
    p.add_argument("--data-dir", type=Path, default=Path(os.environ.get("PG_DATA_DIR", ROOT / "var/postgres")))
    args = p.parse_args()
    log_file = args.data_dir / "postgres.log"
    start = log_file.stat().st_size
    superuser_sql(args.data_dir, "ALTER SYSTEM SET log_statement = 'all'",
                  "ALTER SYSTEM SET log_line_prefix = '%d|'", "SELECT pg_reload_conf()")
    try:
        subprocess.run([sys.executable, str(ROOT / "bench/suite_side.py"), "--phases", "wrk", "--conns", "1",
                        "--warmup", "1s", "--duration", args.seconds, "--tsv", os.devnull], check=True, cwd=ROOT,
                       stdout=subprocess.DEVNULL)
    finally:
        superuser_sql(args.data_dir, "ALTER SYSTEM RESET log_statement", "ALTER SYSTEM RESET log_line_prefix",
                      "SELECT pg_reload_conf()")
    with log_file.open("rb") as f:
        f.seek(start)
        shapes, demands = count(f.read().decode(errors="replace"))
    if not demands:
        print("no demand was inserted: is the suite's PostgreSQL logging to", log_file, "?")
        return 1
    totals = collections.Counter()
    for (database, _), n in shapes.items():
        totals[database] += n
    print(f"{demands} demands; SQL statements per demand, by database (BEGIN and COMMIT included)")
    for database in ("intake", "routing", "sla"):
        print(f"\n{database:8} {totals[database] / demands:5.1f}")
        for (db, statement), n in shapes.most_common():
            if db == database and n / demands >= 0.05:
                print(f"  {n / demands:5.2f}  {statement}")
    print(f"\ntotal    {sum(totals[d] for d in ('intake', 'routing', 'sla')) / demands:5.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
