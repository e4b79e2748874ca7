"""Fixtures of the SLA tests: the rules of time (calendar, policy, a controllable "now") and an SLA harness.

The harness is the suite's one (:mod:`tests.harness`) running the sla service alone -- its web app, its real
worker loop (consumer, relay, timer) and a producer standing in for intake and routing -- built from
``sla_service.bootstrap.bootstrap(settings, calendar=, policy=, now=)``, so these tests do not depend on the
other services' handlers. ``sla`` runs on the embedded default, and on PostgreSQL + Kafka too for a test
marked ``both_backends``. A test asks for its rules (``real_rules``, ``tiny_rules`` or ``tiny_rules_live``)
and the harness is built with them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from shared.calendar import SHANGHAI, BusinessCalendar
from shared.contracts.events import CloudEvent, load_data
from sla_service.bootstrap import utc_now
from sla_service.domain.policy import SlaPolicy
from sla_service.reference import load_policy
from tests.harness import Harness

SHIPPED_POLICY = Path(__file__).resolve().parents[2] / "deploy" / "sla_policy.yaml"

# Targets of a few business seconds, so a clock breaches while a test watches.
TINY_POLICY = """
warning_fraction: 0.8
first_response:
  default: {business_seconds: 10}
  online_helpdesk: {business_seconds: 2}
resolution:
  simple: {business_seconds: 20}
  complex: {business_seconds: 40}
  difficult: {business_seconds: 80}
"""


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


class FakeNow:
    """A settable "now": timers fire when the test says time has come."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


@dataclass
class Rules:
    """What SLA's context is built with in a test; calling it answers "now", ``set`` moves a fake one."""

    calendar: BusinessCalendar
    policy: SlaPolicy
    now: Callable[[], datetime]

    def __call__(self) -> datetime:
        return self.now()

    def set(self, at: datetime) -> None:
        assert isinstance(self.now, FakeNow), "these rules run in real time"
        self.now.set(at)

    def overrides(self) -> dict[str, Any]:
        return {"calendar": self.calendar, "policy": self.policy, "now": self.now}


def all_day_calendar(tmp_path: Path, around: date) -> BusinessCalendar:
    """A calendar where every instant of the days around ``around`` counts (tests run at any hour)."""
    days = [around + timedelta(days=i) for i in range(-3, 10)]
    overrides = tmp_path / "calendar_overrides.yaml"
    overrides.write_text("workdays: [" + ", ".join(d.isoformat() for d in days) + "]\n", encoding="utf-8")
    return BusinessCalendar(overrides, day_start=dtime(0), day_end=dtime(23, 59, 59, 999999))


def tiny_rules_for(tmp_path: Path, now: Callable[[], datetime]) -> Rules:
    """Every instant of the days around today counts, and targets are a few seconds long."""
    cal = all_day_calendar(tmp_path, now().astimezone(SHANGHAI).date())
    policy_path = tmp_path / "sla_policy.yaml"
    policy_path.write_text(TINY_POLICY, encoding="utf-8")
    return Rules(cal, load_policy(policy_path, cal.seconds_per_working_day), now)


@pytest.fixture
def real_rules() -> Rules:
    """China's calendar and the shipped policy, with "now" set by the test (hand-worked dates in 2026)."""
    cal = BusinessCalendar()
    return Rules(cal, load_policy(SHIPPED_POLICY, cal.seconds_per_working_day), FakeNow(sh(2026, 3, 2, 9)))


@pytest.fixture
def tiny_rules(tmp_path: Path) -> Rules:
    """Tiny targets on an all-day calendar; "now" starts at the real now and moves when the test says."""
    return tiny_rules_for(tmp_path, FakeNow(datetime.now(UTC)))


@pytest.fixture
def tiny_rules_live(tmp_path: Path) -> Rules:
    """Tiny targets on an all-day calendar, in real time."""
    return tiny_rules_for(tmp_path, utc_now)


RULES = ("real_rules", "tiny_rules", "tiny_rules_live")


@dataclass
class Published:
    type: str
    data: dict[str, Any]
    event: CloudEvent


class SlaHarness(Harness):
    """The sla service alone, fed by a stand-in producer; ``events`` are what it published on sla.events."""

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.ctx.sessions

    def submit(self, demand_id: str | None = None, reported_at: datetime | None = None, channel: str = "grid",
               complexity: str = "simple", street: str = "wujiaochang", category: str = "taxation",
               key: bool = False) -> str:
        demand_id = demand_id or str(uuid.uuid4())
        at = reported_at or datetime.now(UTC)
        self.publish("yangpu.demand.submitted.v1", {
            "demand_id": demand_id, "channel": channel, "street": street, "category": category,
            "complexity": complexity, "title": "开票问题",
            "enterprise": {"uscc": "91310110MA1G8XXXXX", "name": "某公司", "key_enterprise": key},
            "reported_at": at, "received_at": at})
        return demand_id

    def act(self, action: str, demand_id: str, at: datetime, street: str = "wujiaochang", **extra: Any) -> CloudEvent:
        return self.publish(f"yangpu.demand.{action}.v1", {"demand_id": demand_id, "street": street,
                                                           "actor_id": "officer-1", "at": at, **extra})

    def pump(self, timeout_s: float = 30.0, quiet_rounds: int = 3) -> None:
        """Step the worker until it goes quiet, then read what it published."""
        super().pump(timeout_s, quiet_rounds)
        self.read()

    def watch(self, timeout_s: float = 30.0) -> None:
        """Read what sla published so far (the relay has run: pump first)."""
        self.read(timeout_s=timeout_s)

    def events(self, kind: str | None = None, demand_id: str | None = None,
               clock: str | None = None) -> list[Published]:
        """Published sla events (of one kind: "warning", "breached", "clock_updated"), as read so far."""
        found = [Published(e.get_type(), load_data(e), e) for e in self.seen
                 if e.get_type().startswith("yangpu.sla.")]
        return [p for p in found if (kind is None or p.type == f"yangpu.sla.{kind}.v1")
                and (demand_id is None or p.data["demand_id"] == demand_id)
                and (clock is None or p.data["kind"] == clock)]


def _rules(request: pytest.FixtureRequest) -> Rules:
    chosen = [name for name in RULES if name in request.fixturenames]
    assert chosen, f"request one of {', '.join(RULES)} with the sla harness"
    return request.getfixturevalue(chosen[0])


@pytest.fixture
def sla(request: pytest.FixtureRequest, env: dict[str, str], harness_factory: Callable[..., Harness]) -> SlaHarness:
    """The sla harness on ``env``, with the rules the test asked for."""
    return harness_factory(env, ("sla",), cls=SlaHarness, sla=_rules(request).overrides())
