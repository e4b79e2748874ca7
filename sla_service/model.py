"""SLA's own tables: the demands it times, their clocks with the next instant each fires, and daily counts.

Hot queries and the index behind each:

* the timer, every loop iteration: due clocks ``next_fire_at <= now`` -> partial index on ``next_fire_at``
  (stopped and paused clocks have none, so the index holds only clocks that can still fire);
* the re-timer, when the calendar's revision moved: clocks that can still fire computed with an older
  revision -> partial index on ``calendar_revision`` over the same clocks;
* the scrape-time collector: open clocks per kind and street, the oldest unanswered report per street
  -> partial index on ``(kind, street, reported_at)`` over clocks not stopped;
* the breach list, newest first, keyset-paginated, optionally per street -> partial indexes on
  ``(breached_at, demand_id, kind)`` and ``(street, breached_at, demand_id, kind)``;
* the summary and the monthly report -> ``sla_daily_counts``, maintained in the same transaction as every
  clock change, so they sum a few rows per day instead of scanning a million demands;
* the department figures (OLA) -> partial indexes on ``holder_spans (end_day, department)`` and
  ``(street, end_day, department)`` over ended spans: a period reads the spans that ended in it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import DemandFacts, UTCDateTime
from shared.messaging.outbox import add_bookkeeping_tables
from sla_service.domain.compliance import COUNTS


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


def _partial(condition: str) -> dict[str, object]:
    """The same partial-index condition on PostgreSQL and SQLite."""
    return {"postgresql_where": text(condition), "sqlite_where": text(condition)}


class TimedDemand(DemandFacts, Base):
    """The facts about a demand that the policy and the reports need.

    ``closed_at`` is set while the demand counts as *closed* for the resolution rate: from its
    ``resolved`` event (any outcome) or, if it was never resolved, its ``closed`` event; a reopen
    clears it until the next resolution. ``outcome`` is the outcome of the latest resolution. ``state``
    "withdrawn", "rejected" or "merged" takes the demand out of every rate (``domain.compliance``);
    ``extensions`` counts the approved extensions of its resolution target.
    """

    __tablename__ = "timed_demands"

    key_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    report_day: Mapped[date] = mapped_column(Date)  # Asia/Shanghai date of reported_at: the counts' bucket
    # open | under_review | resolved | closed | withdrawn | rejected | merged
    state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(32))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extensions: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    merged_into: Mapped[str | None] = mapped_column(String(36))  # the surviving demand of a merged one


class ClockRow(Base):
    """A persisted :class:`sla_service.domain.clock.Clock` plus its timer deadline and breach instant.

    ``street`` and ``reported_at`` repeat the demand's (they never change) so the collector and the
    breach list read one index instead of joining a million demands.
    """

    __tablename__ = "clocks"

    demand_id: Mapped[str] = mapped_column(ForeignKey("timed_demands.demand_id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    street: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    business_seconds_target: Mapped[int] = mapped_column(Integer)
    business_seconds_used: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    target_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when used time reached the target
    warned: Mapped[bool] = mapped_column(Boolean, default=False)
    breach_emitted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_fire_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What approved extensions added to business_seconds_target (the original target is the difference).
    business_seconds_extended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The calendar revision target_at and next_fire_at were computed with (shared.calendar_store).
    calendar_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_clocks_due", "next_fire_at", **_partial("next_fire_at IS NOT NULL")),
        Index("ix_clocks_calendar", "calendar_revision", **_partial("next_fire_at IS NOT NULL")),
        Index("ix_clocks_open", "kind", "street", "reported_at", **_partial("stopped_at IS NULL")),
        Index("ix_clocks_breaches", "breached_at", "demand_id", "kind", **_partial("breached_at IS NOT NULL")),
        Index("ix_clocks_street_breaches", "street", "breached_at", "demand_id", "kind",
              **_partial("breached_at IS NOT NULL")),
    )


class DailyCounts(Base):
    """How the demands reported on one day (Asia/Shanghai) in one street, channel and category stand now.

    Each demand contributes to exactly one row (its report day and facts never change); every clock or
    closure change applies its difference here in the same transaction (``sla_service.repository``).
    """

    __tablename__ = "sla_daily_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    street: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)
    demands: Mapped[int] = mapped_column(Integer, default=0)
    first_response_met: Mapped[int] = mapped_column(Integer, default=0)
    first_response_breached: Mapped[int] = mapped_column(Integer, default=0)
    resolution_met: Mapped[int] = mapped_column(Integer, default=0)
    resolution_breached: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    closed_resolved: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    withdrawn: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    merged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_sla_daily_counts_street_day", "street", "day"),)


class HolderSpanRow(Base):
    """A persisted :class:`sla_service.domain.holder.HolderSpan`: one holder's period with a demand (OLA).

    ``seq`` numbers a demand's spans from 1; the open one is the highest. ``department`` is the holder group
    (a department code, or ``street``); ``street``, ``channel`` and ``category`` repeat the demand's for the
    summary's filters; ``end_day`` is the Asia/Shanghai date of ``ended_at``: the figures count the spans
    *ended* on the days asked, through ``ix_holder_spans_end_day`` (district) and
    ``ix_holder_spans_street_end_day`` (a supervisor's street), both over ended spans only.
    ``business_seconds_target`` is the policy's target for the group when the span started (None: none).
    """

    __tablename__ = "holder_spans"

    demand_id: Mapped[str] = mapped_column(ForeignKey("timed_demands.demand_id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[str] = mapped_column(String(64))
    officer_kind: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str] = mapped_column(String(64))
    street: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    running_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    business_seconds_used: Mapped[float] = mapped_column(Float, default=0.0)
    business_seconds_target: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_day: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        Index("ix_holder_spans_end_day", "end_day", "department", **_partial("end_day IS NOT NULL")),
        Index("ix_holder_spans_street_end_day", "street", "end_day", "department",
              **_partial("end_day IS NOT NULL")),
    )


COUNT_COLUMNS = COUNTS  # one column per count, in the order of a contribution vector

outbox, processed_events = add_bookkeeping_tables(metadata)
