"""What a service's processes are built from, once: its settings, its database and its sessions.

Each service's ``bootstrap.py`` extends :class:`ServiceContext` with what its rules need (a calendar, a
policy, the roster) and builds it in one place; the web app, the worker and the tests all take that one
object instead of reading settings, globals or ``app.extensions`` of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db import make_engine, session_factory


@dataclass(frozen=True)
class ServiceContext:
    service: str
    settings: Settings
    metadata: MetaData
    engine: Engine
    sessions: sessionmaker[Session]


def database(service: str, settings: Settings, metadata: MetaData) -> tuple[Engine, sessionmaker[Session]]:
    """The service's engine and session factory, for its bootstrap."""
    engine = make_engine(settings.database_url(service))
    return engine, session_factory(engine, metadata)
