"""Routing on its own: its web app and its real worker loop, built from ``routing_service.bootstrap`` by the
suite's harness, and a way to put events on the bus as intake and sla would. Tests drive routing with exactly
the events they need, independent of the other services."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from routing_service.model import Assignment, Officer, outbox
from routing_service.timers import UnassignedRetry
from shared.contracts import events
from tests.conftest import TEST_SLA_POLICY
from tests.harness import Harness, make_harness

ROSTER = Path(__file__).with_name("roster.yaml")
OFFICER_1, OFFICER_2 = "com-wujiaochang-1", "com-wujiaochang-2"
USCC = "91310110MA4PFF8Q3P"


def submitted(street: str = "wujiaochang", channel: str = "grid", category: str = "taxation", key: bool = False,
              chief: str | None = None, demand_id: str | None = None, complexity: str = "simple") -> dict[str, Any]:
    """The data of a ``submitted`` event as intake sends it."""
    now = datetime.now(UTC)
    return {"demand_id": demand_id or str(uuid.uuid4()), "channel": channel, "street": street, "grid": None,
            "category": category, "complexity": complexity, "title": "开具发票遇到困难",
            "enterprise": {"uscc": USCC, "name": "上海定澜智能装备有限公司", "key_enterprise": key,
                           "chief_officer_id": chief},
            "reported_at": now, "received_at": now}


def clock(demand_id: str, kind: str, status: str = "running", target_at: datetime | None = None,
          used: float = 0.0, target: int = 28_800, at: datetime | None = None) -> dict[str, Any]:
    """The data of an sla clock event."""
    return {"demand_id": demand_id, "street": "wujiaochang", "channel": "grid", "category": "taxation",
            "kind": kind, "status": status, "target_at": target_at, "business_seconds_used": used,
            "business_seconds_target": target, "key_enterprise": False, "at": at or datetime.now(UTC)}


class Routing(Harness):
    """Routing in-process (``client``, ``worker``, ``ctx``), with the words its tests speak."""

    def officer_auth(self, subject: str = OFFICER_1) -> dict[str, str]:
        return self.auth("officer", subject)

    def supervisor_auth(self, street: str = "wujiaochang") -> dict[str, str]:
        return self.auth("supervisor", f"sup-{street}", street)

    @property
    def retry(self) -> UnassignedRetry:
        """The worker's timer that offers the unassigned queues again (runs on every step in tests)."""
        return self.worker.spec.timers[0]

    def submit(self, **kwargs: Any) -> str:
        """Publish a submitted demand and let routing handle it; returns the demand id."""
        data = submitted(**kwargs)
        self.publish(events.SUBMITTED, data)
        self.pump()
        return data["demand_id"]

    def assignment(self, demand_id: str) -> Assignment:
        with self.session() as s:
            return s.get(Assignment, demand_id)

    def officer(self, officer_id: str) -> Officer:
        with self.session() as s:
            return s.get(Officer, officer_id)

    def outbox_count(self) -> int:
        with self.session() as s:
            return s.scalar(select(func.count()).select_from(outbox))

    def clear_outbox(self) -> None:
        with self.session() as s:
            s.execute(delete(outbox))

    def events(self, type_: str | None = None, demand_id: str | None = None) -> list[dict[str, Any]]:
        """The data of every event on the bus so far, filtered by type and demand."""
        return [e.get_data() for e in self.read(type_, demand_id)]

    def act(self, demand_id: str, action: str, body: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> Any:
        return self.client.post(f"/api/v1/demands/{demand_id}/{action}", json=body or {},
                                headers=headers if headers is not None else self.officer_auth())


def make_routing(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Routing:
    """Routing alone on ``env``'s backend with the test roster; the retry timer runs on every step (tests of
    "which path refilled" stop it through :attr:`Routing.retry`)."""
    return make_harness({**env, "ROSTER_PATH": str(ROSTER), "SLA_POLICY_PATH": str(TEST_SLA_POLICY)}, monkeypatch,
                        ("routing",), cls=Routing,
                        routing={"retry_interval_s": 0.0})


@pytest.fixture
def routing(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Routing]:
    """Routing alone, on the embedded backend (and on PostgreSQL + Kafka too for a test marked
    ``both_backends``)."""
    r = make_routing(env, monkeypatch)
    try:
        yield r
    finally:
        r.close()
