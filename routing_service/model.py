"""Routing's own tables: the officer roster, the assignment of each demand, transfers, and the SLA projection."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime
from shared.outbox import add_bookkeeping_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    streets: Mapped[list] = mapped_column(JSON, default=list)
    department: Mapped[str | None] = mapped_column(String(64))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer)
    duty: Mapped[dict] = mapped_column(JSON, default=dict)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    last_assigned_seq: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Assignment(Base):
    """A demand as routing sees it: who holds it, by which rule, where it stands, and its SLA deadlines."""

    __tablename__ = "assignments"

    demand_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    street: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    complexity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    enterprise_uscc: Mapped[str] = mapped_column(String(18))
    key_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(32))
    officer_id: Mapped[str | None] = mapped_column(String(64))
    officer_kind: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Projection of sla.events: the nearest running deadline orders the queue.
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla: Mapped[dict] = mapped_column(JSON, default=dict)
    seq: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        Index("ix_assignments_queue", "officer_id", "state", "next_due"),
        Index("ix_assignments_street_state", "street", "state"),
    )


class Transfer(Base):
    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    demand_id: Mapped[str] = mapped_column(String(36), index=True)
    from_officer_id: Mapped[str | None] = mapped_column(String(64))
    to_officer_id: Mapped[str | None] = mapped_column(String(64))
    to_department: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    rule: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox, processed_events = add_bookkeeping_tables(metadata)
