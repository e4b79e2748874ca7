"""Conservation under concurrency: every demand answered 201 is routed once, clocked, projected; nothing stuck.

Runs the suite as real processes (gunicorn web + the three workers) on fresh databases and a fresh topic
prefix, drives it with several clients at once (each retries a failed POST with the same body and
``Idempotency-Key``, as a real client does), waits for the pipeline to drain, then audits the three
databases and the topics and prints accepted / routed / clocked / lost / duplicated / stuck. The fault
tests (``tests/reliability``) use the same load, monitor and audit. Needs ``make servers`` first.

    .venv/bin/python bench/conservation.py --clients 8 --seconds 25
"""

from __future__ import annotations

import argparse
import collections
import http.client
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy import create_engine, text

from devstack import environments
from shared.auth import issue_token
from shared.config import SERVICES, Settings
from shared.contracts import events
from shared.contracts.events import DEMAND_EVENTS, TOPICS, dlq_topic
from shared.messaging.backends import ensure_topics, read_topic

ASSIGNED = events.ASSIGNED


class Load:
    """Clients POSTing demands at once; each retries a failure with the same body and Idempotency-Key.

    ``rate`` is the total offered rate (None: as fast as the clients go). A POST is retried until it is
    answered 201 or ``give_up_s`` passes (counted as ``abandoned``: never accepted, so not a loss).
    """

    def __init__(self, settings: Settings, clients: int = 8, rate: float | None = None,
                 give_up_s: float = 180.0) -> None:
        self.settings = settings
        self.clients = clients
        self.rate = rate
        self.give_up_s = give_up_s
        self.accepted: dict[str, str] = {}  # Idempotency-Key -> demand id
        self.accepted_at: list[float] = []
        self.retries = 0
        self.failures: collections.Counter[str] = collections.Counter()
        self.abandoned = 0
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        enterprises = yaml.safe_load(settings.enterprises_path.read_text(encoding="utf-8"))["enterprises"]
        self._callers = [
            (e["street"], e["uscc"], e["name"],
             issue_token("grid_worker", f"load-grid-{e['street']}", e["street"], secret=settings.jwt_secret))
            for e in enterprises if not e.get("key_enterprise")
        ]

    def start(self) -> None:
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True, name=f"load-{n}")
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop offering new demands; wait for the ones in flight to be accepted (or given up)."""
        self.stopping.set()
        for thread in self._threads:
            thread.join(self.give_up_s + 30)

    @property
    def ids(self) -> set[str]:
        with self._lock:
            return set(self.accepted.values())

    def _client(self, n: int) -> None:
        rng = random.Random(n)
        target = urlsplit(self.settings.service_urls["intake"])
        interval = self.clients / self.rate if self.rate else 0.0
        next_at = time.monotonic() + rng.random() * interval
        conn: http.client.HTTPConnection | None = None
        i = 0
        while not self.stopping.is_set():
            if interval:
                delay = next_at - time.monotonic()
                if delay > 0 and self.stopping.wait(delay):
                    break
                next_at += interval
            street, uscc, name, token = self._callers[rng.randrange(len(self._callers))]
            key = str(uuid.UUID(int=rng.getrandbits(128)))
            body = json.dumps({
                "channel": "grid", "street": street, "category": "taxation", "complexity": "simple",
                "title": f"负载测试需求 {n}-{i}", "description": "conservation run",
                "enterprise": {"name": name, "uscc": uscc, "contact_name": "测试", "contact_phone": "13812345678"},
            }).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                       "Idempotency-Key": key}
            i += 1
            give_up = time.monotonic() + self.give_up_s
            attempt = 0
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=15)
                    conn.request("POST", "/api/v1/demands", body=body, headers=headers)
                    resp = conn.getresponse()
                    payload = resp.read()
                    if resp.status in (200, 201):
                        with self._lock:
                            self.accepted[key] = json.loads(payload)["id"]
                            self.accepted_at.append(time.monotonic())
                        break
                    self.failures[f"http {resp.status}"] += 1
                    if resp.status < 500 and resp.status not in (408, 409, 429):
                        raise RuntimeError(f"load: POST refused with {resp.status}: {payload[:300]!r}")
                except (OSError, http.client.HTTPException) as exc:
                    self.failures[exc.__class__.__name__] += 1
                    if conn is not None:
                        conn.close()
                    conn = None
                if time.monotonic() > give_up:
                    self.abandoned += 1
                    break
                attempt += 1
                self.retries += 1
                time.sleep(min(2.0, 0.05 * 2 ** min(attempt, 6)) * (0.5 + rng.random()))
        if conn is not None:
            conn.close()


# --- what each service has done, read from its own database -------------------------------------

COUNTS = {
    "intake": "SELECT count(*) FROM demands WHERE status <> 'submitted'",  # the projection moved
    "routing": "SELECT count(*) FROM assignments",
    "sla": "SELECT count(*) FROM timed_demands",
}


class Monitor:
    """Samples each service's progress a few times a second, to tell when the pipeline flows again."""

    def __init__(self, settings: Settings, interval_s: float = 0.25) -> None:
        self.engines = {svc: create_engine(settings.database_url(svc), pool_pre_ping=True) for svc in SERVICES}
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[str, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="monitor")

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def _run(self) -> None:
        last: dict[str, int] = {}
        while not self._stop.is_set():
            counts = dict(last)
            for svc, engine in self.engines.items():
                try:
                    with engine.connect() as conn:
                        counts[svc] = int(conn.execute(text(COUNTS[svc])).scalar_one())
                except Exception:  # noqa: BLE001 - the database may be down: that is what is measured
                    pass
            last = counts
            self.samples.append((time.monotonic(), counts))
            self._stop.wait(self.interval_s)

    def flowing_again(self, since: float) -> dict[str, float | None]:
        """Seconds from ``since`` until each service's count first rose past the first value sampled after it.

        The base is sampled after ``since``, not before, so a commit that landed just before a crash is not
        taken for the pipeline flowing again (the figure errs late by at most one sampling interval).
        """
        after = [(t, c) for t, c in self.samples if t >= since]
        if not after:
            return dict.fromkeys(SERVICES)
        base = after[0][1]
        return {svc: next((t - since for t, c in after if c.get(svc, 0) > base.get(svc, 0)), None)
                for svc in SERVICES}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for engine in self.engines.values():
            engine.dispose()


# --- the audit --------------------------------------------------------------------------------------


@dataclass
class Audit:
    accepted: int
    in_intake: int
    routed: int
    clocked: int
    projected: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    outbox: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    assigned_events: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.stuck or any(self.outbox.values())
                    or any(self.dead_letters.values()))

    def line(self) -> str:
        return (f"accepted {self.accepted}  routed {self.routed}  clocked {self.clocked}  projected "
                f"{self.projected}  lost {len(self.lost)}  duplicated {len(self.duplicated)}  stuck "
                f"{len(self.stuck)}  outbox {sum(self.outbox.values())}  dead letters "
                f"{sum(self.dead_letters.values())}")


def _scalar_rows(url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params).all()]
    finally:
        engine.dispose()


OUTBOX_GRACE_S = 10.0


def audit(settings: Settings, accepted_ids: set[str]) -> Audit:
    """Check conservation: each accepted demand routed once, clocked, projected; no outbox row stranded, DLQs empty."""
    intake_rows = dict(_scalar_rows(settings.database_url("intake"), "SELECT id, status FROM demands"))
    routing = collections.Counter(r[0] for r in _scalar_rows(settings.database_url("routing"),
                                                             "SELECT demand_id FROM assignments"))
    clocks = collections.Counter(r[0] for r in _scalar_rows(settings.database_url("sla"),
                                                            "SELECT demand_id FROM clocks"))
    assigned: dict[str, set[str]] = collections.defaultdict(set)
    for message in read_topic(settings, DEMAND_EVENTS):
        headers = message.headers
        if headers.get("ce_type") == ASSIGNED.encode():
            assigned[headers["ce_subject"].decode()].add(headers["ce_id"].decode())
    result = Audit(
        accepted=len(accepted_ids),
        in_intake=sum(1 for i in accepted_ids if i in intake_rows),
        routed=sum(1 for i in accepted_ids if routing[i] == 1),
        clocked=sum(1 for i in accepted_ids if clocks[i] == 2),
        projected=sum(1 for i in accepted_ids if intake_rows.get(i) not in (None, "submitted")),
        assigned_events=sum(len(v) for v in assigned.values()),
    )
    for demand in sorted(accepted_ids):
        if demand not in intake_rows or routing[demand] == 0 or clocks[demand] == 0 or not assigned.get(demand):
            result.lost.append(demand)
        elif routing[demand] > 1 or clocks[demand] > 2 or len(assigned[demand]) > 1:
            result.duplicated.append(demand)
        elif clocks[demand] != 2 or intake_rows[demand] == "submitted":
            result.stuck.append(demand)
    # Demands nobody was told about (a 201 lost on the wire is fine; a stored demand never routed is not).
    result.stuck.extend(sorted(d for d, status in intake_rows.items() if d not in accepted_ids and routing[d] == 0))
    # A row written a moment ago (a timer still firing) is in flight; one older than the grace is stranded.
    stale = time.time() - OUTBOX_GRACE_S
    for svc in SERVICES:
        result.outbox[svc] = int(_scalar_rows(settings.database_url(svc),
                                              "SELECT count(*) FROM outbox WHERE created_at < :stale",
                                              stale=stale)[0][0])
    for topic in TOPICS:
        result.dead_letters[topic] = len(read_topic(settings, dlq_topic(topic)))
    return result


def wait_until(predicate: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return predicate()


def drained(settings: Settings, accepted_ids: set[str]) -> Callable[[], bool]:
    """A predicate: every accepted demand routed, clocked and projected, and every outbox empty."""

    def check() -> bool:
        try:
            counts = {svc: int(_scalar_rows(settings.database_url(svc), COUNTS[svc])[0][0]) for svc in SERVICES}
            outboxes = sum(int(_scalar_rows(settings.database_url(svc), "SELECT count(*) FROM outbox")[0][0])
                           for svc in SERVICES)
        except Exception:  # noqa: BLE001 - a database coming back
            return False
        return all(c >= len(accepted_ids) for c in counts.values()) and outboxes == 0

    return check


def main() -> None:
    from devstack.seed import seed
    from devstack.stack import Stack

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--rate", type=float, default=None, help="total POSTs per second (default: flat out)")
    parser.add_argument("--web-concurrency", type=int, default=2)
    parser.add_argument("--base-port", type=int, default=18401)
    args = parser.parse_args()
    with TemporaryDirectory() as tmp:
        env = environments.production(Path(tmp), "cons", base_port=args.base_port)
        env["WEB_CONCURRENCY"] = str(args.web_concurrency)
        stack = Stack(env, log_dir=Path(tmp) / "logs")
        settings = stack.settings
        try:
            seed(settings)
            ensure_topics(settings)
            stack.start()
            load = Load(settings, clients=args.clients, rate=args.rate)
            started = time.monotonic()
            load.start()
            time.sleep(args.seconds)
            load.stop()
            offered_s = time.monotonic() - started
            ids = load.ids
            drain_started = time.monotonic()
            wait_until(drained(settings, ids), 180)
            drain_s = time.monotonic() - drain_started
            result = audit(settings, ids)
            print(f"{args.clients} clients for {offered_s:.0f} s on PostgreSQL + Kafka "
                  f"(web concurrency {args.web_concurrency}): {len(ids) / offered_s:.0f} accepted/s, "
                  f"drained {drain_s:.1f} s after the load stopped")
            print(f"  {result.line()}")
            print(f"  client retries {load.retries}  failures {dict(load.failures)}  abandoned {load.abandoned}")
            if not result.ok:
                print(f"  LOST {result.lost[:10]}  DUPLICATED {result.duplicated[:10]}  STUCK {result.stuck[:10]}")
                raise SystemExit(1)
        finally:
            stack.stop()
            environments.drop(env)


if __name__ == "__main__":
    main()

