"""Intake's rows and how the rules see them: the enterprise registry, demand inserts, the projected state,
the rows the resend sweep locks, and the attachments of a demand.

A demand's USCC is looked up and, if unknown, added in the same statement on PostgreSQL (an
``INSERT ... ON CONFLICT DO NOTHING`` inside a CTE that also reads the existing row), so logging a demand
costs no extra round trip and takes no row lock on popular enterprises. An enterprise added so is
*unconfirmed* (``source = 'intake'``): its name is what one reporter typed, which fixes nobody else's demand;
only the registry import (:mod:`intake_service.reference`) confirms or changes a registered name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, false, func, insert, literal, null, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, undefer

from intake_service.domain.policy import NOT_OPEN_STATUSES, DemandState
from intake_service.model import Attachment, Demand, Enterprise, TimelineEntry, outbox
from shared.db import UTCDateTime, insert_on_conflict


@dataclass(frozen=True)
class Registered:
    """An enterprise as the registry knows it; ``added`` when this demand put it there."""

    uscc: str
    name: str
    street: str
    key_enterprise: bool
    chief_officer_id: str | None
    source: str
    added: bool

    @property
    def confirmed(self) -> bool:
        """Known to the registry import, rather than typed by the reporter of an earlier demand."""
        return self.source != INTAKE_SOURCE


INTAKE_SOURCE = "intake"  # an enterprise first named by a demand, not (yet) in the registry import
# Statements are built once at import: building them per call cost more CPU than running them.
_COLUMNS = (Enterprise.uscc, Enterprise.name, Enterprise.street, Enterprise.key_enterprise,
            Enterprise.chief_officer_id, Enterprise.source)
_ENTERPRISES = Enterprise.__table__
_FIND = select(*_COLUMNS).where(Enterprise.uscc == bindparam("uscc"))
_NEW_ROW = {"uscc": bindparam("uscc"), "name": bindparam("name"), "street": bindparam("street"),
            "key_enterprise": false(), "chief_officer_id": null(), "source": literal(INTAKE_SOURCE),
            "updated_at": bindparam("now", type_=UTCDateTime())}
_ADD = insert(_ENTERPRISES).values(_NEW_ROW)
# PostgreSQL: add-if-new and read-if-known in one statement. When the insert happens the CTE returns the new
# row; when the USCC is known the insert does nothing and the second SELECT (same snapshot) returns it.
_ADDED = (pg_insert(_ENTERPRISES).values(_NEW_ROW).on_conflict_do_nothing(index_elements=["uscc"])
          .returning(*_COLUMNS, literal(True).label("added")).cte("added"))
_FIND_OR_ADD = select(_ADDED).union_all(select(*_COLUMNS, literal(False).label("added"))
                                        .where(Enterprise.uscc == bindparam("uscc")))
_INSERT_DEMAND = insert(Demand.__table__)
# An open demand of an enterprise and category received since an instant (served by the USCC index).
_OPEN_LIKE_IT = (Demand.enterprise_uscc == bindparam("uscc"), Demand.category == bindparam("category"),
                 Demand.received_at >= bindparam("since"), Demand.status.not_in(sorted(NOT_OPEN_STATUSES)))
_NEWEST_FIRST = (Demand.received_at.desc(), Demand.id.desc())
_DUPLICATE_IDS = select(Demand.id).where(*_OPEN_LIKE_IT).order_by(*_NEWEST_FIRST).limit(bindparam("limit"))
_READ_PROJECTION = select(*(getattr(Demand, name) for name in DemandState.__dataclass_fields__),
                          Demand.updated_at).where(Demand.id == bindparam("id"))
# A literal, so that PostgreSQL matches the query to the partial index ix_demands_unrouted.
_IS_UNROUTED = Demand.status == literal("submitted", literal_execute=True)


# --- the enterprise registry ----------------------------------------------------------------------------


def find_enterprise(session: Session, uscc: str) -> Registered | None:
    """The registered enterprise with this USCC, if any."""
    row = session.connection().execute(_FIND, {"uscc": uscc}).first()
    return Registered(*row, added=False) if row else None


def find_or_add_enterprise(session: Session, uscc: str, name: str, street: str, now: datetime) -> Registered:
    """The registered enterprise, adding it unconfirmed (as reported, in the demand's street) when it is new;
    a known row is never changed here."""
    conn = session.connection()
    params = {"uscc": uscc, "name": name, "street": street, "now": now}
    if conn.dialect.name != "postgresql":
        # SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE), so read, then add.
        found = find_enterprise(session, uscc)
        if found:
            return found
        conn.execute(_ADD, params)
        return Registered(uscc, name, street, False, None, INTAKE_SOURCE, added=True)
    row = conn.execute(_FIND_OR_ADD, params).first()
    if row is None:
        # Another transaction added the same new enterprise after this statement's snapshot was taken:
        # our insert did nothing and the snapshot cannot see theirs; a fresh statement can.
        found = find_enterprise(session, uscc)
        if found is None:
            raise RuntimeError(f"enterprise {uscc} neither added nor found")
        return found
    return Registered(*row)


# --- demands --------------------------------------------------------------------------------------------


def add_demand(session: Session, row: dict[str, Any]) -> Demand:
    """Insert a demand (one statement, no ORM flush) and return it as an object not attached to ``session``."""
    session.connection().execute(_INSERT_DEMAND, row)
    return Demand(**row)


def demand_by_idempotency_key(session: Session, subject: str, key: str) -> Demand | None:
    """The demand ``subject`` logged with this Idempotency-Key, if any."""
    return session.scalars(select(Demand).where(Demand.created_by == subject,
                                                Demand.idempotency_key == key)).first()


def projection(session: Session, demand_id: str) -> tuple[DemandState, datetime] | None:
    """A demand's projected columns as the rules see them, and its ``updated_at``; None for a demand logged
    elsewhere. Plain columns, no entity: the consumer projects every event this way."""
    row = session.connection().execute(_READ_PROJECTION, {"id": demand_id}).first()
    return (DemandState(*row[:-1]), row[-1]) if row is not None else None


def write_projection(session: Session, demand_id: str, before: DemandState, after: DemandState,
                     updated_at: datetime) -> None:
    """Write the projected columns that changed (only those, as the ORM would: a column another transaction
    changed meanwhile is not written back) and ``updated_at``."""
    changed = {name: value for name, value in after.__dict__.items() if getattr(before, name) != value}
    session.connection().execute(update(Demand.__table__).where(Demand.__table__.c.id == demand_id)
                                 .values(**changed, updated_at=updated_at))


def touch(session: Session, demand_id: str, at: datetime) -> bool:
    """Move a demand's ``updated_at`` to ``at`` unless it is later already; False when there is no such demand."""
    table = Demand.__table__
    moved = session.connection().execute(
        update(table).where(table.c.id == demand_id)
        .values(updated_at=case((table.c.updated_at < at, at), else_=table.c.updated_at)))
    return moved.rowcount > 0


# --- attachments ----------------------------------------------------------------------------------------


def attachments_of(session: Session, demand_id: str) -> list[Attachment]:
    """A demand's attachments in the order they were added, without their bytes (deferred)."""
    return list(session.scalars(select(Attachment).where(Attachment.demand_id == demand_id)
                                .order_by(Attachment.position)))


def attachment_count(session: Session, demand_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Attachment).where(Attachment.demand_id == demand_id)) or 0


def attachment_with_data(session: Session, demand_id: str, attachment_id: str) -> Attachment | None:
    """One attachment of one demand, its bytes loaded (an id of another demand's file finds nothing)."""
    return session.scalars(select(Attachment).where(Attachment.id == attachment_id,
                                                    Attachment.demand_id == demand_id)
                           .options(undefer(Attachment.data))).first()


def add_attachment(session: Session, row: dict[str, Any]) -> Attachment:
    """Insert an attachment; the unique (demand, position) turns a race for the last place into an error."""
    attachment = Attachment(**row)
    session.add(attachment)
    session.flush()
    return attachment


# --- the resend sweep -----------------------------------------------------------------------------------


def lock_due_for_resend(session: Session, cutoff: datetime, now: datetime, limit: int) -> list[Demand]:
    """Demands still submitted since ``cutoff`` or before, due for a resend and whose event has left the outbox;
    oldest first, at most ``limit``.

    On PostgreSQL the rows are taken ``FOR UPDATE SKIP LOCKED``, so two intake workers never resend the same
    demand at once and the sweep never waits for the projection.
    """
    waiting_in_outbox = select(outbox.c.id).where(outbox.c.message_key == Demand.id).exists()
    return list(session.scalars(
        select(Demand)
        .where(_IS_UNROUTED, Demand.received_at <= cutoff, Demand.submitted_event_id.is_not(None),
               or_(Demand.next_resend_at.is_(None), Demand.next_resend_at <= now), ~waiting_in_outbox)
        .order_by(Demand.received_at)
        .limit(limit)
        .with_for_update(of=Demand, skip_locked=True)
    ).all())


def count_unrouted(session: Session, cutoff: datetime) -> int:
    """Demands still submitted that were received at ``cutoff`` or before (read from the partial index)."""
    return session.scalar(select(func.count()).select_from(Demand)
                          .where(_IS_UNROUTED, Demand.received_at <= cutoff)) or 0


def likely_duplicates(session: Session, uscc: str, category: str, since: datetime, limit: int,
                      exclude: str | None = None) -> list[Demand]:
    """Open demands of ``uscc`` and ``category`` received at or after ``since``, newest first (the USCC index
    serves it: an enterprise has few demands)."""
    query = select(Demand).where(*_OPEN_LIKE_IT).order_by(*_NEWEST_FIRST).limit(limit)
    if exclude is not None:
        query = query.where(Demand.id != exclude)
    return list(session.scalars(query, {"uscc": uscc, "category": category, "since": since}))


def likely_duplicate_ids(session: Session, uscc: str, category: str, since: datetime, limit: int) -> list[str]:
    """The ids of :func:`likely_duplicates`, for logging a demand: a built statement and plain rows, no entities."""
    return list(session.connection().scalars(
        _DUPLICATE_IDS, {"uscc": uscc, "category": category, "since": since, "limit": limit}))


# --- the timeline -----------------------------------------------------------------------------------------


def add_timeline_entry(session: Session, demand_id: str, event_id: str, kind: str, at: datetime,
                       actor_id: str | None, details: dict[str, Any]) -> bool:
    """Add the entry of ``event_id`` unless the demand's timeline has it already (an event is projected once);
    True when added. One statement: the unique event id decides, with no read before the write."""
    added = session.connection().execute(_add_timeline_entry(session.get_bind().dialect.name), {
        "demand_id": demand_id, "event_id": event_id, "kind": kind, "at": at, "actor_id": actor_id, "details": details})
    return added.first() is not None


@functools.cache
def _add_timeline_entry(dialect: str) -> Any:
    """The insert of :func:`add_timeline_entry`, built once: the consumer runs it for every event it projects."""
    table = TimelineEntry.__table__
    return (insert_on_conflict(dialect, table)
            .values({name: bindparam(name) for name in ("demand_id", "event_id", "kind", "at", "actor_id", "details")})
            .on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.id))
