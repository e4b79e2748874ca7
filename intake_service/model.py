"""Intake's own tables: demands as reported, their timeline, their attachments, the enterprise's private links and
the enterprise registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime
from shared.messaging.outbox import add_bookkeeping_tables

# Demands intake has not yet seen routed: few at any time, so the resend sweep's index over them stays small.
UNROUTED = "status = 'submitted'"


class Base(DeclarativeBase):
    pass


metadata = Base.metadata


class Demand(Base):
    """A demand as reported, plus the reporter's view of its progress projected from events."""

    __tablename__ = "demands"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    street: Mapped[str] = mapped_column(String(32))
    grid: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(64))
    complexity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text)
    enterprise_name: Mapped[str] = mapped_column(String(200))
    enterprise_uscc: Mapped[str] = mapped_column(String(18))
    key_enterprise: Mapped[bool] = mapped_column(Boolean)
    chief_officer_id: Mapped[str | None] = mapped_column(String(64))
    contact_name: Mapped[str] = mapped_column(String(100))
    contact_phone: Mapped[str] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    warnings: Mapped[dict | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    # Projected from demand.events and sla.events.
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    satisfaction: Mapped[str | None] = mapped_column(String(32))
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    sla_status: Mapped[str] = mapped_column(String(16), default="on_track")
    # The id and time of the demand's `submitted` event (NULL for demands logged before they were kept), so that
    # the resend sweep re-publishes the very same event (intake_service.announce) while the demand stays unrouted.
    submitted_event_id: Mapped[str | None] = mapped_column(String(64))
    submitted_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resends: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_resend_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        # Retries with the same Idempotency-Key are scoped to the caller who sent them.
        UniqueConstraint("created_by", "idempotency_key", name="uq_demands_idempotency"),
        # The list is newest first by received_at, id (keyset); these serve its scopes and filters.
        Index("ix_demands_received", "received_at", "id"),
        Index("ix_demands_street_received", "street", "received_at", "id"),
        Index("ix_demands_uscc_received", "enterprise_uscc", "received_at", "id"),
        Index("ix_demands_assignee", "assignee_id"),
        Index("ix_demands_chief_officer", "chief_officer_id"),
        # The resend sweep and the unrouted gauge: demands still submitted, oldest first.
        Index("ix_demands_unrouted", "received_at", postgresql_where=text(UNROUTED), sqlite_where=text(UNROUTED)),
    )


class TimelineEntry(Base):
    """One step of a demand's history, projected from demand.events and sla.events."""

    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    demand_id: Mapped[str] = mapped_column(ForeignKey("demands.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Attachment(Base):
    """A photo or scan attached to a demand, stored in the database: it is written in the same transaction as
    its row, backed up and restored with the demand, and reaches every gunicorn worker and container alike on
    SQLite and PostgreSQL, with no shared disk to keep in step (files are at most 8 MiB, five per demand)."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    demand_id: Mapped[str] = mapped_column(ForeignKey("demands.id"))
    # 1..5: unique per demand, so two uploads racing for the last place cannot both have it (409).
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(120))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    location_kept: Mapped[bool] = mapped_column(Boolean)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # lists never load the bytes

    __table_args__ = (
        UniqueConstraint("demand_id", "position", name="uq_attachments_position"),
        CheckConstraint("position BETWEEN 1 AND 5", name="ck_attachments_position"),
    )


class EnterpriseLink(Base):
    """The enterprise's private link to one demand: only the SHA-256 of its random token is kept, so the link
    can be shown once when issued and never read back; issuing again replaces it (the old one stops working)."""

    __tablename__ = "enterprise_links"

    demand_id: Mapped[str] = mapped_column(ForeignKey("demands.id"), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Enterprise(Base):
    """The enterprise registry: loaded from reference data, extended by intake with enterprises it meets."""

    __tablename__ = "enterprises"

    uscc: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(32))
    key_enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    chief_officer_id: Mapped[str | None] = mapped_column(String(64))
    # "reference" (deploy/enterprises.yaml) or "intake" (first met in a demand).
    source: Mapped[str] = mapped_column(String(16), default="reference")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


outbox, processed_events = add_bookkeeping_tables(metadata)
