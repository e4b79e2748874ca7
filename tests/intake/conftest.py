"""Intake on its own, in-process: its Flask test client, its real worker loop and a way to publish the
events other services would, so intake's rules are tested without depending on routing and sla.

Built like every process of intake: one context from ``bootstrap()``, the app from it (``app.create``), the
worker from ``worker_spec(ctx)``. ``intake`` runs on the embedded default, and on PostgreSQL + Kafka too for a
test marked ``both_backends``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from intake_service.model import metadata
from tests.harness import Harness


class Intake(Harness):
    """Intake alone, with the words its tests use."""

    @property
    def engine(self) -> Any:
        return self.ctx.engine

    def grid(self, street: str = "wujiaochang", subject: str | None = None) -> dict[str, str]:
        return self.auth("grid_worker", subject or f"grid-{street}-01", street)

    def counts(self) -> dict[str, int]:
        """Rows in intake's tables: what a refused request must not have changed."""
        with self.engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
                    for name in ("demands", "outbox", "enterprises", "timeline")}

    def outbox_events(self) -> list[dict[str, Any]]:
        """The events waiting in intake's outbox, decoded (type and data)."""
        return [{"type": type_, "data": data} for type_, data in self.outbox()]

    def publish(self, type_: str, data: dict[str, Any], source: str = "/test") -> str:  # type: ignore[override]
        """Put an event on the bus as another service would (``at`` defaults to now); returns its id."""
        return super().publish(type_, {"at": datetime.now(UTC), **data}, source).get_id()


@pytest.fixture
def intake(env: dict[str, str], harness_factory: Any) -> Intake:
    """Intake alone, on the backend(s) of ``env``."""
    return harness_factory(env, ("intake",), cls=Intake)
