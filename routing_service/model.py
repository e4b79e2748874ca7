"""Routing's own tables: the officer roster, each demand's assignment, transfers, and the SLA projection."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import DemandFacts, UTCDateTime
from shared.messaging.outbox import add_bookkeeping_tables


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


class Officer(Base):
    """One roster entry. ``open_count`` is how many open demands the officer holds (kept with the assignments,
    under the officer's row lock); ``on_duty`` is the admin's switch (off = on leave), ``duty`` the weekly shift.
    """

    __tablename__ = "officers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))  # office phone, for the enterprise and grid workers
    kind: Mapped[str] = mapped_column(String(32))
    streets: Mapped[list] = mapped_column(JSON, default=list)
    department: Mapped[str | None] = mapped_column(String(64))
    skills: Mapped[list] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer)
    duty: Mapped[dict] = mapped_column(JSON, default=dict)
    open_count: Mapped[int] = mapped_column(Integer, default=0)
    last_assigned_seq: Mapped[int] = mapped_column(Integer, default=0)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    # Leave for a date range (Asia/Shanghai, both days inclusive; migration 0006): routing treats the officer as
    # off duty on those days (policy.on_leave). Like ``on_duty`` it is the admin's, never the YAML roster's.
    leave_from: Mapped[date | None] = mapped_column(Date)
    leave_until: Mapped[date | None] = mapped_column(Date)
    # Set when an admin edits the officer through the API; the YAML roster then no longer overwrites it.
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Assignment(DemandFacts, Base):
    """A demand as routing sees it: who holds it, by which rule, where it stands, and its SLA deadlines."""

    __tablename__ = "assignments"

    title: Mapped[str] = mapped_column(String(120))
    enterprise_uscc: Mapped[str] = mapped_column(String(18))
    # From demand.submitted (migration 0004): the officers' lists show and search it; null on older rows.
    enterprise_name: Mapped[str | None] = mapped_column(String(200))
    key_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    chief_officer_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    officer_id: Mapped[str | None] = mapped_column(String(64))
    officer_kind: Mapped[str | None] = mapped_column(String(32))
    department: Mapped[str | None] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to: Mapped[str | None] = mapped_column(String(64))
    auto_escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    outcome: Mapped[str | None] = mapped_column(String(16))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Issue 15 (migration 0005). The extension request waiting for the supervisor ({working_days, reason,
    # actor_id, at}; one at a time) and how many were approved (the policy caps them).
    extension_request: Mapped[dict | None] = mapped_column(JSON)
    extension_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Every officer who returned the demand, in order: routing never gives it back to them.
    returned_by: Mapped[list | None] = mapped_column(JSON)
    merged_into: Mapped[str | None] = mapped_column(String(36))  # the surviving demand of a merged duplicate
    # Projection of sla.events (see routing_service.repository): the nearest deadline orders the queues.
    first_response_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sla: Mapped[dict] = mapped_column(JSON, default=dict)
    # When a clock of the demand last reached its warning threshold, and which (migration 0007): sla's
    # ``warning`` event sets them; the holder's notifications read them (routing kept no such time before).
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    warned_clock: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        # GET /queue: one officer's open demands, most urgent first (PostgreSQL sorts NULLs last in ASC).
        Index("ix_assignments_queue", "officer_id", "is_open", "next_due", "demand_id"),
        # The officer's resolved (awaiting feedback) and closed lists, most recent first; search stays within
        # one officer's rows, so it scans this index's range, never the table.
        Index("ix_assignments_officer_state", "officer_id", "state", "updated_at"),
        # The street's unassigned queue and the retry timer: small partial indexes.
        Index("ix_assignments_unassigned", "street", "next_due",
              postgresql_where=text("state = 'unassigned'"), sqlite_where=text("state = 'unassigned'")),
        Index("ix_assignments_escalated", "street", "next_due",
              postgresql_where=text("escalated AND is_open"), sqlite_where=text("escalated AND is_open")),
    )


class Transfer(Base):
    """One change of holder after routing: a transfer, or a supervisor assigning from the unassigned queue."""

    __tablename__ = "transfers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    demand_id: Mapped[str] = mapped_column(String(36), index=True)
    from_officer_id: Mapped[str | None] = mapped_column(String(64))
    to_officer_id: Mapped[str | None] = mapped_column(String(64))
    to_department: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    rule: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class EarlyClock(Base):
    """An sla clock event that arrived before routing saw the demand (the topics are not ordered together).

    Adopted into the assignment's projection when the assignment is created, then deleted.
    """

    __tablename__ = "early_sla_clocks"

    demand_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    clock: Mapped[dict] = mapped_column(JSON)


class Alert(Base):
    """One alert as Alertmanager's webhook delivered it (issue 18): the pages' bell and alerts list.

    An alert is one firing of one label set: Alertmanager's ``fingerprint`` with its ``startsAt`` (a new
    firing of the same labels starts later). Deliveries repeat (resends, retries): the same pair updates
    its row; ``resolved`` is final for it. ``received_at`` is the first delivery, what "unread" is judged by.
    """

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    alertname: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str | None] = mapped_column(String(40))
    street: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(Text)
    runbook: Mapped[str | None] = mapped_column(String(500))
    page: Mapped[str | None] = mapped_column(String(200))
    generator_url: Mapped[str | None] = mapped_column(String(2000))
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_fingerprint_starts_at"),
        Index("ix_alerts_street_received", "street", "received_at"),
    )


class ReadMark(Base):
    """How far one user has read one feed (``alerts``, ``notifications``): everything up to ``seen_through``.

    A mark per user instead of a row per item read: the feeds are read models over rows routing keeps.
    """

    __tablename__ = "read_marks"

    subject: Mapped[str] = mapped_column(String(200), primary_key=True)
    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_through: Mapped[datetime] = mapped_column(UTCDateTime())


outbox, processed_events = add_bookkeeping_tables(metadata)
