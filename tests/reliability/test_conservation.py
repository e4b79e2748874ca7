"""Conservation under real concurrency: 8 clients, two processes of every worker, at least 5,000 demands.

The relay once deleted rows it had not published when two writers' commits interleaved (0.3-0.6 % of
demands lost, invisible to sequential tests). Here many writers commit at once on PostgreSQL + Kafka,
two relays compete for each outbox, two consumers share each group, and the audit checks every demand
answered 201: routed exactly once, both clocks, projected back to intake, one ``assigned`` event on the
topic, every outbox and dead-letter topic empty.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.conservation import Load, audit, drained, wait_until
from shared.config import SERVICES
from tests.conftest import KAFKA, PG_ADMIN_URL, require_servers
from tests.reliability.conftest import start_suite, stop_suite

pytestmark = pytest.mark.production

DEMANDS = 5000
CLIENTS = 8


def test_every_accepted_demand_is_routed_once_and_clocked_under_eight_clients(tmp_path: Path):
    require_servers()
    running = start_suite(tmp_path, PG_ADMIN_URL, KAFKA, base_port=18501)
    try:
        for service in SERVICES:  # a second process of every worker: competing relays, a shared group
            running.stack.start_worker(service, instance=2)
        load = Load(running.settings, clients=CLIENTS)
        started = time.monotonic()
        load.start()
        try:
            assert wait_until(lambda: len(load.accepted) >= DEMANDS, 600, 0.2), "the load did not get through"
        finally:
            load.stop()
        ids = load.ids
        rate = len(ids) / (time.monotonic() - started)
        assert wait_until(drained(running.settings, ids), 180), audit(running.settings, ids).line()
        result = audit(running.settings, ids)
        print(f"\n[conservation] {CLIENTS} clients, {rate:.0f} accepted/s: {result.line()}")
        assert len(ids) >= DEMANDS
        assert result.ok, f"lost {result.lost[:5]} duplicated {result.duplicated[:5]} stuck {result.stuck[:5]}"
        assert result.routed == result.clocked == result.projected == result.in_intake == len(ids)
        assert result.assigned_events == len(ids)
    finally:
        stop_suite(running, PG_ADMIN_URL)
