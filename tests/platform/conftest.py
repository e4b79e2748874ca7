"""Fixtures of the platform tests: a service database with a table of its own, on the bus of ``env``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, MetaData

from shared.config import Settings
from shared.db import make_engine, session_factory
from shared.messaging.backends import ensure_topics


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
