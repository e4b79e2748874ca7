"""Fixtures shared by the suite's tests.

``env``: a fresh environment on the embedded default, and on PostgreSQL + Kafka as well for a test marked
``both_backends``; ``embedded`` and ``production`` pin one backend.
``embedded``: a fresh embedded-mode environment (SQLite files and event log in a temp dir).
``production``: fresh PostgreSQL databases and a unique Kafka topic prefix on the real servers started by
``deploy/postgres/postgres.sh`` and ``deploy/kafka/kafka.sh``. When those are not reachable a production
test is skipped on a developer's machine and FAILS when ``CI=true``.

``harness_factory`` builds :class:`tests.harness.Harness` (any services in-process: Flask test clients plus
the real worker loops the worker processes run); ``suite`` is all three on ``env``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
from sqlalchemy import Engine, MetaData

from devstack import environments
from shared.config import SERVICES, Settings
from shared.db import make_engine, session_factory
from shared.messaging.backends import ensure_topics
from tests.harness import Harness, make_harness

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", environments.PG_ADMIN_URL)
KAFKA = os.environ.get("TEST_KAFKA_BOOTSTRAP", environments.KAFKA)
IN_CI = os.environ.get("CI", "").lower() in ("true", "1", "yes")  # CI systems spell it several ways
# The shipped SLA policy with no sampled closure reviews: tests resolve random demands and expect them
# resolved, which the shipped 10 % sample would break for one demand in ten. Every process the tests start
# inherits it (Settings.from_env, devstack.stack); the review rule has its own tests, and
# tests/platform/test_reference.py keeps this file equal to deploy/sla_policy.yaml in everything else.
TEST_SLA_POLICY = Path(__file__).with_name("sla_policy.yaml")
os.environ.setdefault("SLA_POLICY_PATH", str(TEST_SLA_POLICY))


def _reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def unavailable(message: str) -> NoReturn:
    """A real part a test needs is missing: skip on a developer's machine, FAIL in CI (CI=true)."""
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_servers() -> None:
    """Production tests need both servers: fail in CI, skip elsewhere, when they are not there."""
    missing = [name for name, (h, p) in {"PostgreSQL": ("127.0.0.1", 5432), "Kafka": ("127.0.0.1", 9092)}.items()
               if not _reachable(h, p)]
    if missing:
        unavailable(f"{' and '.join(missing)} not reachable; "
                    "start them with deploy/postgres/postgres.sh start and deploy/kafka/kafka.sh start")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``env`` is the embedded default; a test marked ``both_backends`` runs on PostgreSQL + Kafka too."""
    if "env" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        params = ["embedded", pytest.param("production", marks=pytest.mark.production)] if both else ["embedded"]
        metafunc.parametrize("env", params, indirect=True)


@contextmanager
def _on_the_servers(tmp_path: Path) -> Iterator[dict[str, str]]:
    require_servers()
    production = environments.production(tmp_path, pg_admin_url=PG_ADMIN_URL, kafka=KAFKA)
    try:
        yield production
    finally:
        environments.drop(production, PG_ADMIN_URL)


@pytest.fixture
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A fresh environment on the backend the test is parametrized with (see ``pytest_generate_tests``)."""
    if request.param == "embedded":
        yield environments.embedded(tmp_path)
        return
    with _on_the_servers(tmp_path) as production:
        yield production


@pytest.fixture
def embedded(tmp_path: Path) -> dict[str, str]:
    return environments.embedded(tmp_path)


@pytest.fixture
def production(tmp_path: Path) -> Iterator[dict[str, str]]:
    with _on_the_servers(tmp_path) as production:
        yield production


@pytest.fixture
def harness_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Harness]]:
    """Build harnesses (``make_harness`` with this test's monkeypatch); all are closed after the test."""
    made: list[Harness] = []

    def factory(env: dict[str, str], services: tuple[str, ...] = SERVICES, **kwargs: Any) -> Harness:
        harness = make_harness(env, monkeypatch, services, **kwargs)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        harness.close()


@pytest.fixture
def suite(env: dict[str, str], harness_factory: Callable[..., Harness]) -> Harness:
    """The whole suite in-process: the three services' clients and workers on one bus."""
    return harness_factory(env)


@pytest.fixture
def open_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., tuple[Settings, Engine, Any]]]:
    """``open_bus(env, metadata, service)``: settings, engine and sessions of ``metadata`` created in that
    service's database, with the topics made."""
    engines: list[Engine] = []

    def open_(env: dict[str, str], metadata: MetaData, service: str = "intake") -> tuple[Settings, Engine, Any]:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings.from_env()
        ensure_topics(settings)
        engine = make_engine(settings.database_url(service))
        metadata.create_all(engine)
        engines.append(engine)
        return settings, engine, session_factory(engine, metadata)

    yield open_
    for engine in engines:
        engine.dispose()
