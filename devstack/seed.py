"""Prepare the services' databases: migrate each to head and load its reference data.

Run by ``make run`` and the test fixtures (``python -m devstack.seed``); safe to run again.
"""

from __future__ import annotations

import importlib

from devstack.migrate import upgrade
from shared.auth_store import ensure_schema, open_engine
from shared.config import SERVICES, Settings
from shared.db import make_engine, session_factory, unit_of_work


def seed(settings: Settings, services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """Migrate, then load each service's reference data (``<service>_service.reference.seed``); returns how
    many rows of reference data each service loaded."""
    loaded: dict[str, int] = {}
    auth = open_engine(settings.auth_database_url)  # the platform's identity store (shared.auth_store)
    try:
        ensure_schema(auth)
    finally:
        auth.dispose()
    for service in services:
        upgrade(service, settings.database_url(service))
        model = importlib.import_module(f"{service}_service.model")
        reference = importlib.import_module(f"{service}_service.reference")
        engine = make_engine(settings.database_url(service))
        try:
            with unit_of_work(session_factory(engine, model.metadata)) as session:
                loaded[service] = reference.seed(session, settings)
        finally:
            engine.dispose()
    return loaded


if __name__ == "__main__":
    for svc, count in seed(Settings.from_env()).items():
        print(f"{svc}: {count} reference rows loaded")
