"""Alembic migrations, one script folder per service (``<service>_service/migrations``).

``python -m devstack.migrate [intake routing sla]`` upgrades each service's database to head; the start-up
scripts and the test fixtures call :func:`upgrade`.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, engine_from_config, pool

from shared.config import PROJECT_ROOT, SERVICES, Settings
from shared.db import UTCDateTime


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / f"{service}_service" / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str) -> None:
    if url.startswith("sqlite:///"):
        os.makedirs(os.path.dirname(url.removeprefix("sqlite:///")) or ".", exist_ok=True)
    command.upgrade(alembic_config(service, url), "head")


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    """Render the project's column types as the plain SQL types they store (migrations stay standalone)."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``env.py``: online migrations, batch mode on SQLite."""
    config = context.config
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
                          render_item=_render_item)
        with context.begin_transaction():
            context.run_migrations()


def new_revision(service: str, message: str) -> None:
    """Autogenerate the next migration of ``service`` from its models (against a scratch SQLite copy)."""
    with tempfile.TemporaryDirectory() as scratch:
        cfg = alembic_config(service, f"sqlite:///{scratch}/scratch.db")
        command.upgrade(cfg, "head")
        command.revision(cfg, message=message, autogenerate=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Upgrade the services' databases to the latest schema.")
    parser.add_argument("services", nargs="*", default=list(SERVICES), choices=SERVICES)
    parser.add_argument("--revision", metavar="MESSAGE",
                        help="instead of upgrading, autogenerate a new migration for the one service named")
    args = parser.parse_args()
    if args.revision:
        if len(args.services) != 1:
            parser.error("--revision takes exactly one service")
        new_revision(args.services[0], args.revision)
        return
    settings = Settings.from_env()
    for service in args.services:
        upgrade(service, settings.database_url(service))
        print(f"{service}: database at head")


if __name__ == "__main__":
    main()
