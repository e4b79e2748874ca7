"""Prepare the services' databases: migrate each to head and load its reference data.

Run by ``make run`` and the test fixtures (``python -m devstack.seed``); safe to run again.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import MetaData
from sqlalchemy.orm import Session

from devstack.migrate import upgrade
from shared.config import SERVICES, Settings
from shared.db import make_engine, session_factory, unit_of_work


def seed(settings: Settings, services: tuple[str, ...] = SERVICES) -> dict[str, int]:
    """Migrate and load reference data; returns how many rows of reference data each service loaded."""
    loaded: dict[str, int] = {}
    for service in services:
        upgrade(service, settings.database_url(service))
    if "intake" in services:
        from intake_service.model import metadata as intake_metadata
        from intake_service.registry import load_enterprises

        loaded["intake"] = _load(settings, "intake", intake_metadata,
                                 lambda s: load_enterprises(s, settings.enterprises_path))
    if "routing" in services:
        from routing_service.model import metadata as routing_metadata
        from routing_service.roster import load_roster

        loaded["routing"] = _load(settings, "routing", routing_metadata,
                                  lambda s: load_roster(s, settings.roster_path))
    return loaded


def _load(settings: Settings, service: str, metadata: MetaData, loader: Callable[[Session], int]) -> int:
    engine = make_engine(settings.database_url(service))
    try:
        with unit_of_work(session_factory(engine, metadata)) as session:
            return loader(session)
    finally:
        engine.dispose()


if __name__ == "__main__":
    for svc, count in seed(Settings.from_env()).items():
        print(f"{svc}: {count} reference rows loaded")
