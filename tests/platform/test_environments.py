"""A dropped test environment leaves nothing on the real servers: its databases and its topics are gone.

Topics matter: every partition holds open files on the broker, and a long run that kept them all made the
broker run out of descriptors and shut down.
"""

from __future__ import annotations

from pathlib import Path

from kafka import KafkaAdminClient
from sqlalchemy import create_engine, text

from devstack import environments
from shared.config import Settings
from shared.messaging.backends import ensure_topics
from tests.conftest import KAFKA, PG_ADMIN_URL, require_servers
from tests.harness import step_until


def test_dropping_an_environment_deletes_its_databases_and_topics(tmp_path: Path) -> None:
    require_servers()
    env = environments.production(tmp_path, pg_admin_url=PG_ADMIN_URL, kafka=KAFKA)
    ensure_topics(Settings.from_env(env))
    prefix = env["TOPIC_PREFIX"]
    admin = KafkaAdminClient(bootstrap_servers=KAFKA, client_id="test-environments")
    try:
        assert any(t.startswith(prefix) for t in admin.list_topics())
        environments.drop(env, PG_ADMIN_URL)
        step_until(lambda: not any(t.startswith(prefix) for t in admin.list_topics()), timeout_s=15,
                   what="the environment's topics deleted")
    finally:
        admin.close()
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            names = set(conn.scalars(text("SELECT datname FROM pg_database")))
    finally:
        engine.dispose()
    assert not {url.rsplit("/", 1)[1] for k, url in env.items() if k.endswith("_DATABASE_URL")} & names
