"""Web-process apps of the platform tests: each call is another gunicorn worker on the same environment."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.harness import prepare


@pytest.fixture
def make_app(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Flask]]:
    """``make_app(service)``: a new web-process app on ``env``; all apps share one accounts clock (``.now``),
    which a test moves to expire locks and sessions."""
    settings = prepare(env, monkeypatch, ("intake", "routing", "sla"))
    made: list[Flask] = []
    now = [time.time()]

    def make(service: str = "intake") -> Flask:
        app = importlib.import_module(f"{service}_service.app").create(settings)
        app.testing = True
        app.extensions["yangpu_accounts"].clock = lambda: now[0]
        made.append(app)
        return app

    make.now = now  # type: ignore[attr-defined]
    yield make
    for app in made:
        app.extensions["yangpu_auth"].close()
        app.extensions["yangpu"]["context"].engine.dispose()
