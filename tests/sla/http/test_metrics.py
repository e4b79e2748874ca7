"""SLA metrics move once per committed change: each warning and breach is counted once, across restarts."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import REGISTRY


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


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
