"""Fixtures shared by the suite's tests.

``embedded``: a fresh embedded-mode environment (SQLite files and event log in a temp dir).
``production``: fresh PostgreSQL databases and a unique Kafka topic prefix on the real servers started by
``deploy/postgres/postgres.sh`` and ``deploy/kafka/kafka.sh``. When those are not reachable a production
test is skipped on a developer's machine and FAILS when ``CI=true``.

``suite`` runs the three services in-process: Flask test clients plus the real worker loops (the same
:class:`shared.worker.Worker` the worker processes run), pumped until the bus is quiet.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from devstack.seed import seed
from shared.auth import issue_token
from shared.config import SERVICES, Settings
from shared.messaging.backends import ensure_topics

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432/postgres")
KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def require_servers() -> None:
    """Production tests need both servers: fail in CI, skip elsewhere, when they are not there."""
    missing = [name for name, (h, p) in {"PostgreSQL": ("127.0.0.1", 5432), "Kafka": ("127.0.0.1", 9092)}.items()
               if not _reachable(h, p)]
    if missing:
        message = (f"{' and '.join(missing)} not reachable; "
                   "start them with deploy/postgres/postgres.sh start and deploy/kafka/kafka.sh start")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def embedded_env(tmp: Path) -> dict[str, str]:
    return {"YANGPU_MODE": "embedded", "VAR_DIR": str(tmp), "EVENT_BUS": "sqlite", "LOG_LEVEL": "WARNING"}


def production_env(tmp: Path) -> dict[str, str]:
    """Fresh databases per call and a topic prefix of their own, on the real servers."""
    from sqlalchemy import create_engine, text

    run = uuid.uuid4().hex[:10]
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    env = {"YANGPU_MODE": "production", "VAR_DIR": str(tmp), "EVENT_BUS": "kafka",
           "KAFKA_BOOTSTRAP_SERVERS": KAFKA, "TOPIC_PREFIX": f"t{run}.", "JWT_SECRET": f"test-secret-{run}-0123456789",
           "LOG_LEVEL": "WARNING"}
    with admin.connect() as conn:
        for service in SERVICES:
            name = f"test_{run}_{service}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            env[f"{service.upper()}_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    admin.dispose()
    return env


def drop_production_databases(env: dict[str, str]) -> None:
    """Drop a test's databases; a moment of retry covers an autovacuum worker still attached to one."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import DBAPIError

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for service in SERVICES:
            name = env[f"{service.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
            for attempt in range(10):
                try:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                    break
                except DBAPIError:
                    if attempt == 9:
                        raise
                    time.sleep(0.5)
    admin.dispose()


@pytest.fixture(params=["embedded", pytest.param("production", marks=pytest.mark.production)])
def backend_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Each test using this runs twice: on the embedded default and on PostgreSQL + Kafka."""
    if request.param == "embedded":
        yield embedded_env(tmp_path)
        return
    require_servers()
    env = production_env(tmp_path)
    try:
        yield env
    finally:
        drop_production_databases(env)


@pytest.fixture
def embedded(tmp_path: Path) -> dict[str, str]:
    return embedded_env(tmp_path)


@pytest.fixture
def production(tmp_path: Path) -> Iterator[dict[str, str]]:
    require_servers()
    env = production_env(tmp_path)
    try:
        yield env
    finally:
        drop_production_databases(env)


def step_until(predicate: Any, step: Any, timeout_s: float = 30.0) -> Any:
    """Call ``step()`` until ``predicate()`` returns something truthy; return it (TimeoutError after a while)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        step()


def token(settings: Settings, role: str, subject: str, street: str | None = None) -> dict[str, str]:
    """Authorization header for a caller."""
    return {"Authorization": f"Bearer {issue_token(role, subject, street, secret=settings.jwt_secret)}"}


@dataclass
class Suite:
    """The three services in one process: web test clients and worker loops over the configured bus."""

    settings: Settings
    clients: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=dict)

    def auth(self, role: str, subject: str, street: str | None = None) -> dict[str, str]:
        return token(self.settings, role, subject, street)

    def pump(self, timeout_s: float = 30.0, quiet_rounds: int = 4) -> None:
        """Run every worker until a few rounds in a row found nothing to do (the bus is drained).

        On Kafka a consumer that has not joined its group yet sees nothing, so quiet only counts once
        every consumer has its partitions.
        """
        deadline = time.monotonic() + timeout_s
        quiet = 0
        while quiet < quiet_rounds:
            work = sum(w.step(0.05) for w in self.workers.values())
            quiet = quiet + 1 if work == 0 and self._consumers_assigned() else 0
            if time.monotonic() > deadline:
                raise TimeoutError("the workers did not go quiet")

    def until(self, predicate: Any, timeout_s: float = 30.0) -> Any:
        """Step the workers until ``predicate()`` returns something truthy; return it."""
        return step_until(predicate, lambda: [w.step(0.02) for w in self.workers.values()], timeout_s)

    def _consumers_assigned(self) -> bool:
        for w in self.workers.values():
            kafka_consumer = getattr(w.processor.consumer, "consumer", None)
            if kafka_consumer is not None and not kafka_consumer.assignment():
                return False
        return True

    def close(self) -> None:
        for w in self.workers.values():
            w.close()


def prepare(env: dict[str, str], monkeypatch: pytest.MonkeyPatch, services: tuple[str, ...] = SERVICES) -> Settings:
    """Put ``env`` in place for the test, migrate and seed ``services``, and create the topics on Kafka."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings.from_env()
    seed(settings, services)
    ensure_topics(settings)
    return settings


def make_suite(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Suite:
    settings = prepare(env, monkeypatch)
    from intake_service.app import create as create_intake
    from intake_service.worker import SPEC as INTAKE
    from routing_service.app import create as create_routing
    from routing_service.worker import SPEC as ROUTING
    from shared.worker import Worker
    from sla_service.app import create as create_sla
    from sla_service.worker import SPEC as SLA

    suite = Suite(settings)
    for name, create in (("intake", create_intake), ("routing", create_routing), ("sla", create_sla)):
        app = create(settings)
        app.testing = True
        suite.clients[name] = app.test_client()
    for spec in (INTAKE, ROUTING, SLA):
        suite.workers[spec.service] = Worker(spec, settings)
    return suite


@pytest.fixture
def suite(backend_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Suite]:
    """The whole suite in-process, on each backend in turn."""
    s = make_suite(backend_env, monkeypatch)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def embedded_suite(embedded: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Suite]:
    """The whole suite in-process on the embedded default only (fast tests of API rules)."""
    s = make_suite(embedded, monkeypatch)
    try:
        yield s
    finally:
        s.close()
