"""SLA's own tables: the demands it times and their clocks, with the next instant each clock fires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime
from shared.outbox import add_bookkeeping_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


class TimedDemand(Base):
    """The facts about a demand that the policy and the reports need."""

    __tablename__ = "timed_demands"

    demand_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    street: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    complexity: Mapped[str] = mapped_column(String(16))
    key_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_timed_demands_street_reported", "street", "reported_at"),)


class ClockRow(Base):
    """A persisted :class:`sla_service.policy.Clock` plus ``next_fire_at``, the indexed timer deadline."""

    __tablename__ = "clocks"

    demand_id: Mapped[str] = mapped_column(ForeignKey("timed_demands.demand_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    business_seconds_target: Mapped[int] = mapped_column(Integer)
    business_seconds_used: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    target_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    breach_emitted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_clocks_next_fire_at", "next_fire_at"),)


outbox, processed_events = add_bookkeeping_tables(metadata)
