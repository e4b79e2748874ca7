"""SLA metrics move once per committed change: never on a rolled-back transaction, never twice."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from shared.db import after_commit
from sla_service import metrics
from sla_service.metrics import FIRST_RESPONSE_SECONDS


def test_after_commit_runs_on_commit_and_drops_on_rollback():
    sessions = sessionmaker(create_engine("sqlite://"))
    ran: list[str] = []
    with sessions() as session:
        after_commit(session, lambda: ran.append("first"))
        after_commit(session, lambda: ran.append("second"))
        assert ran == []
        session.commit()
        assert ran == ["first", "second"]
        session.execute(text("SELECT 1"))  # a transaction, as in a handler that then fails
        after_commit(session, lambda: ran.append("rolled back"))
        session.rollback()
        session.commit()
    assert ran == ["first", "second"]


def test_first_response_histogram_has_the_one_minute_edge():
    assert 60 in FIRST_RESPONSE_SECONDS._upper_bounds  # the online help desk's promise


@pytest.mark.parametrize(("metric", "name", "labels"), [
    (metrics.FIRST_RESPONSE_SECONDS, "yangpu_sla_first_response_seconds", ("street", "channel")),
    (metrics.CLOCKS_MET, "yangpu_sla_clocks_met", ("kind", "street", "channel")),
    (metrics.CLOCKS_BREACHED, "yangpu_sla_clocks_breached",
     ("kind", "street", "channel", "category", "key_enterprise")),
    (metrics.WARNINGS, "yangpu_sla_warnings", ("kind", "street", "channel")),
    (metrics.RESOLUTIONS, "yangpu_sla_resolutions", ("outcome", "street", "channel", "category")),
])
def test_metric_names_and_labels_are_the_dashboards_contract(metric, name, labels):
    assert metric._name == name  # counters are exposed with the _total suffix
    assert metric._labelnames == labels  # bounded: never a demand id
