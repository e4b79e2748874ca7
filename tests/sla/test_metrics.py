"""SLA metrics move once per committed change: never on a rolled-back transaction, never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from shared.db import after_commit
from sla_service import metrics
from sla_service.metrics import FIRST_RESPONSE_SECONDS


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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


def test_timer_counts_each_warning_and_breach_once(tiny_rules, sla):
    labels = {"kind": "first_response", "street": "dinghai", "channel": "online_helpdesk"}
    warnings = value("yangpu_sla_warnings_total", **labels)
    breaches = value("yangpu_sla_clocks_breached_total", **labels, category="taxation", key_enterprise="false")
    sla.submit(reported_at=tiny_rules(), channel="online_helpdesk", street="dinghai")
    sla.pump()
    tiny_rules.set(tiny_rules() + timedelta(seconds=3))
    sla.pump()
    sla.restart_worker()
    sla.pump()
    assert value("yangpu_sla_warnings_total", **labels) == warnings + 1
    assert value("yangpu_sla_clocks_breached_total", **labels, category="taxation",
                 key_enterprise="false") == breaches + 1


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
