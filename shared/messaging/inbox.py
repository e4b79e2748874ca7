"""The inbox: ``processed_events``, the idempotent consumer's memory of what each group already handled.

A row is written in the same transaction as the handler's effects, so a redelivered event is recognised and
changes nothing. A dead-lettered event never gets a row (its handler's transaction rolled back), so a
replay of it, or intake's re-publication of a stuck demand, is handled rather than silently deduplicated.
"""

from __future__ import annotations

import time

from sqlalchemy import Column, Float, MetaData, String, Table
from sqlalchemy.orm import Session

from shared.db import insert_on_conflict


def add_processed_table(metadata: MetaData) -> Table:
    """Declare ``processed_events`` in a service's own metadata."""
    return Table(
        "processed_events",
        metadata,
        Column("consumer_group", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("processed_at", Float, nullable=False),
    )


def mark_processed(session: Session, group: str, event_ids: list[str]) -> set[str]:
    """Record that ``group`` handles ``event_ids``; returns those it had not handled before (the others are
    redeliveries). One statement for a whole batch."""
    processed = session.info["metadata"].tables["processed_events"]
    now = time.time()
    rows = [{"consumer_group": group, "event_id": i, "processed_at": now} for i in dict.fromkeys(event_ids)]
    insert = insert_on_conflict(session.get_bind().dialect.name, processed)
    return set(session.scalars(insert.values(rows).on_conflict_do_nothing().returning(processed.c.event_id)))
