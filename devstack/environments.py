"""Fresh, isolated environments on the real servers, for tests and benchmarks.

Each call makes new PostgreSQL databases (one per service, plus the platform's identity store) and a topic
prefix of its own, so runs never see each other's rows or events; :func:`drop` removes both afterwards.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from shared.config import SERVICES, Settings
from shared.messaging.backends import delete_topics

log = logging.getLogger(__name__)

PG_ADMIN_URL = "postgresql+psycopg://yangpu:yangpu@127.0.0.1:5432/postgres"
KAFKA = "127.0.0.1:9092"


def embedded(var_dir: Path) -> dict[str, str]:
    """The embedded default (SQLite files and the event log) in ``var_dir``."""
    return {"YANGPU_MODE": "embedded", "VAR_DIR": str(var_dir), "EVENT_BUS": "sqlite", "LOG_LEVEL": "WARNING"}


def production(var_dir: Path, label: str = "t", pg_admin_url: str = PG_ADMIN_URL, kafka: str = KAFKA,
               services: tuple[str, ...] = SERVICES, base_port: int | None = None) -> dict[str, str]:
    """Production mode on fresh databases named ``<label>_<run>_<service>`` and a topic prefix of its own.

    ``base_port`` also gives each service's web and worker-metrics ports (base + i, base + 100 + i), for
    runs that start real processes beside others.
    """
    run = uuid.uuid4().hex[:10]
    env = {"YANGPU_MODE": "production", "VAR_DIR": str(var_dir), "EVENT_BUS": "kafka",
           "KAFKA_BOOTSTRAP_SERVERS": kafka, "TOPIC_PREFIX": f"{label}{run}.",
           "JWT_SECRET": f"{label}-secret-{run}-0123456789abcdef", "LOG_LEVEL": "WARNING"}
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for i, service in enumerate(services):
                name = f"{label}_{run}_{service}"
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                env[f"{service.upper()}_DATABASE_URL"] = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
                if base_port is not None:
                    env[f"{service.upper()}_PORT"] = str(base_port + i)
                    env[f"{service.upper()}_WORKER_METRICS_PORT"] = str(base_port + 100 + i)
            conn.execute(text(f'CREATE DATABASE "{label}_{run}_auth"'))  # deny list, sign-in rate limits
            env["AUTH_DATABASE_URL"] = pg_admin_url.rsplit("/", 1)[0] + f"/{label}_{run}_auth"
    finally:
        admin.dispose()
    return env


def drop(env: dict[str, str], pg_admin_url: str = PG_ADMIN_URL) -> None:
    """Drop an environment's databases and topics; a few retries cover a server just back from a fault or
    an autovacuum worker still attached. Topics are deleted so a long test run does not exhaust the
    broker's open files (each partition holds several)."""
    if env.get("TOPIC_PREFIX") and env.get("EVENT_BUS") == "kafka":
        try:
            delete_topics(Settings.from_env(env))
        except Exception as exc:  # noqa: BLE001 - a broker down after a fault test: its topics die with it
            log.warning("could not delete topics of %s: %s", env["TOPIC_PREFIX"], exc)
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for key in [k for k in env if k.endswith("_DATABASE_URL")]:
                name = env[key].rsplit("/", 1)[1]
                for attempt in range(10):
                    try:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                        break
                    except DBAPIError:
                        if attempt == 9:
                            raise
                        time.sleep(1)
    finally:
        admin.dispose()
