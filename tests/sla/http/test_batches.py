"""A demand's events handled in one batch (one transaction, where SLA keeps the demand it locked between events)
leave SLA exactly as the same events handled one batch each: clocks, holder spans, the demand's state, the daily
counts and what was announced."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from sla_service.model import ClockRow, DailyCounts, HolderSpanRow, TimedDemand, processed_events
from tests.sla.conftest import sh

HOUR = 3600
LIFE = (  # (action, at, fields), in time order; reported Mon 2026-03-02 09:00
    ("assigned", sh(2026, 3, 2, 9, 1), {"actor_id": "routing", "officer_id": "com-a",
                                         "officer_kind": "street_commissioner", "department": None,
                                         "rule": "category_match", "queue": "officer"}),
    ("acknowledged", sh(2026, 3, 2, 10), {}),
    ("materials_requested", sh(2026, 3, 2, 11), {"note": "营业执照复印件"}),
    ("materials_received", sh(2026, 3, 3, 10), {}),
    ("transferred", sh(2026, 3, 3, 10, 30), {"from_officer_id": "com-a", "to_officer_id": "spec-tax",
                                             "to_department": "tax_bureau", "reason": "needs the department",
                                             "to_officer_kind": "department_specialist",
                                             "to_officer_department": "tax_bureau"}),
    ("extension_approved", sh(2026, 3, 3, 11), {"working_days": 1, "business_seconds": 8 * HOUR}),
    ("resolved", sh(2026, 3, 4, 10), {"outcome": "resolved"}),
    ("reopened", sh(2026, 3, 4, 15), {"reason": "企业不满意"}),
    ("resolved", sh(2026, 3, 5, 10), {"outcome": "resolved"}),
    ("closed", sh(2026, 3, 5, 12), {}),
)


def _events(rules, sla, demand_id: str, one_batch_each: bool) -> None:
    """Live through ``LIFE``, "now" following the events; pump after every event, or once at the end (the
    consumer runs before the timer in a worker's round, so the batch sees no timer in between either)."""
    for action, at, fields in LIFE:
        rules.set(at)
        sla.act(action, demand_id, at, **fields)
        if one_batch_each:
            sla.pump()
    sla.pump()


def _columns(row: Any, skip: tuple[str, ...] = ("demand_id", "category")) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns if c.name not in skip}


def _state(sla, demand_id: str, category: str) -> dict[str, Any]:
    with sla.sessions() as session:
        clocks = session.scalars(select(ClockRow).where(ClockRow.demand_id == demand_id).order_by(ClockRow.kind))
        spans = session.scalars(select(HolderSpanRow).where(HolderSpanRow.demand_id == demand_id)
                                .order_by(HolderSpanRow.seq))
        counts = session.scalars(select(DailyCounts).where(DailyCounts.category == category))
        return {"demand": _columns(session.get(TimedDemand, demand_id)),
                "clocks": [_columns(c) for c in clocks], "spans": [_columns(s) for s in spans],
                "counts": [_columns(c, skip=("category",)) for c in counts],
                "announced": [(p.type, p.data.get("kind"), p.data.get("status"), p.data.get("business_seconds_used"),
                               p.data.get("target_at")) for p in sla.events(demand_id=demand_id)]}


def test_a_batch_of_one_demands_events_equals_them_one_batch_each(real_rules, sla):
    real_rules.set(sh(2026, 3, 2, 9))
    together = sla.submit(reported_at=sh(2026, 3, 2, 9), category="taxation")
    _events(real_rules, sla, together, one_batch_each=False)
    real_rules.set(sh(2026, 3, 2, 9))
    alone = sla.submit(reported_at=sh(2026, 3, 2, 9), category="permits")
    sla.pump()
    _events(real_rules, sla, alone, one_batch_each=True)

    with sla.sessions() as session:  # the premise: all of ``together``'s events went through in one transaction
        batches = session.scalars(select(processed_events.c.processed_at)).all()
    assert len(set(batches)) == 1 + 1 + len(LIFE), "one batch for the first demand, one per event for the other"

    batched, one_by_one = _state(sla, together, "taxation"), _state(sla, alone, "permits")
    assert batched["demand"]["state"] == "closed" and len(batched["spans"]) == 3 and batched["counts"]
    assert batched == one_by_one
