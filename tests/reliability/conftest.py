"""Fixtures of the reliability tests: the suite as real processes under load, on servers they may break.

The fault tests kill, crash and stop PostgreSQL and the Kafka broker, so they get servers of their own
(``deploy/postgres/postgres.sh`` and ``deploy/kafka/kafka.sh`` on other ports and data directories),
started once per session: the shared servers the rest of the suite uses are never disturbed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import environments
from devstack.seed import seed
from devstack.stack import Stack
from shared.config import PROJECT_ROOT, Settings
from shared.messaging.backends import ensure_topics
from tests.conftest import unavailable

KAFKA_SH = str(PROJECT_ROOT / "deploy" / "kafka" / "kafka.sh")
POSTGRES_SH = str(PROJECT_ROOT / "deploy" / "postgres" / "postgres.sh")


@dataclass(frozen=True)
class FaultServers:
    """A PostgreSQL cluster and a Kafka broker that the tests may kill; their scripts take these variables."""

    pg_port: int = int(os.environ.get("FAULT_PG_PORT", "15432"))
    kafka_port: int = int(os.environ.get("FAULT_KAFKA_PORT", "19092"))
    pg_data_dir: str = os.environ.get("FAULT_PG_DATA_DIR", "/var/tmp/yangpu-faults-postgres")
    kafka_data_dir: str = str(PROJECT_ROOT / "var" / "faults-kafka")

    @property
    def pg_admin_url(self) -> str:
        return f"postgresql+psycopg://yangpu:yangpu@127.0.0.1:{self.pg_port}/postgres"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def kafka_sh(self, command: str) -> None:
        subprocess.run([KAFKA_SH, command], check=True, env={
            **os.environ, "KAFKA_PORT": str(self.kafka_port), "KAFKA_CONTROLLER_PORT": str(self.kafka_port + 1),
            "KAFKA_DATA_DIR": self.kafka_data_dir})

    def postgres_sh(self, command: str) -> None:
        subprocess.run([POSTGRES_SH, command], check=True, env={
            **os.environ, "PG_PORT": str(self.pg_port), "PG_DATA_DIR": self.pg_data_dir})


@pytest.fixture(scope="session")
def fault_servers() -> Iterator[FaultServers]:
    servers = FaultServers()
    try:
        servers.postgres_sh("start")
        servers.kafka_sh("start")
    except (subprocess.CalledProcessError, OSError) as exc:
        unavailable(f"cannot start the fault tests' own PostgreSQL and Kafka: {exc}")
    yield servers
    servers.kafka_sh("stop")
    servers.postgres_sh("stop")


@dataclass
class Running:
    """The suite started as real processes on fresh databases; what a scenario acts on."""

    stack: Stack
    settings: Settings
    env: dict[str, str]


def start_suite(tmp: Path, pg_admin_url: str, kafka: str, base_port: int,
                extra_env: dict[str, str] | None = None) -> Running:
    env = {**environments.production(tmp, "cons", pg_admin_url, kafka, base_port=base_port), "WEB_CONCURRENCY": "2",
           **(extra_env or {})}
    stack = Stack(env, log_dir=tmp / "logs")
    seed(stack.settings)
    ensure_topics(stack.settings)
    stack.start()
    return Running(stack, stack.settings, env)


def stop_suite(running: Running, pg_admin_url: str) -> None:
    running.stack.stop()
    environments.drop(running.env, pg_admin_url)
