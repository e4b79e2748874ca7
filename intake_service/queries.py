"""Intake's read side: one demand with its timeline and attachments, the demand list a page at a time, the
views of a demand each caller may see, an attachment's bytes, the grid worker's own demands, the registry
look-up and Open311's request list.

Every query is scoped by :mod:`intake_service.domain.policy`: who may read what is decided there, and a
query refuses (:class:`IntakeRefused`) rather than answering with something the caller may not see.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, case, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from intake_service import repository
from intake_service.domain import INVALID, IntakeRefused
from intake_service.domain.policy import (
    ENDING_KINDS,
    EVERY_STREET,
    MAX_DUPLICATES,
    OPEN311_CLOSED,
    STREET_BOUND_READERS,
    Caller,
    demand_number,
    duplicate_since,
    is_demand_id,
    link_alive,
    link_expires_at,
    may_read,
    read_scope,
    sees_phone,
    token_digest,
)
from intake_service.model import Attachment, Demand, Enterprise, EnterpriseLink, TimelineEntry
from intake_service.repository import INTAKE_SOURCE
from shared.db import UTCDateTime, unit_of_work
from shared.instants import instant_text, parse_instant
from shared.validation import mask_phone, moment_problem, normalize_phone

if TYPE_CHECKING:
    from intake_service.bootstrap import Context


def _readable(session: Session, caller: Caller, demand_id: str) -> Demand:
    if not is_demand_id(demand_id):
        raise IntakeRefused("not_found", "no such demand: demand ids are UUIDs")
    demand = session.get(Demand, demand_id)
    if demand is None:
        raise IntakeRefused("not_found", f"no demand {demand_id}")
    if not may_read(caller, demand.street, demand.assignee_id, demand.chief_officer_id, demand.created_by):
        raise IntakeRefused("forbidden", "this demand is not visible to you")
    return demand


def readable_demand(ctx: Context, caller: Caller, demand_id: str) -> tuple[Demand, list[TimelineEntry]]:
    """A demand and its timeline if the caller may read it (refused: not_found, or forbidden)."""
    with unit_of_work(ctx.sessions) as session:
        demand = _readable(session, caller, demand_id)
        timeline = timeline_of(session, demand_id)
    return demand, timeline


def timeline_of(session: Session, demand_id: str) -> list[TimelineEntry]:
    """A demand's timeline, oldest first, joined at read time with the entries of the demands merged into it
    (their ``demand_id`` tells them apart): a merged duplicate's history stays where it was written."""
    own = list(session.scalars(select(TimelineEntry).where(TimelineEntry.demand_id == demand_id)))
    merged = [t.details["from"] for t in own if t.kind == "merged_in" and (t.details or {}).get("from")]
    joined = list(session.scalars(select(TimelineEntry).where(TimelineEntry.demand_id.in_(merged)))) if merged else []
    return sorted(own + joined, key=lambda t: (t.at, t.id))


def demand_view(ctx: Context, caller: Caller, demand_id: str) -> dict[str, Any]:
    """The reporter's view of one demand (see :func:`full_view`) with its attachments, if the caller may read it."""
    demand, timeline = readable_demand(ctx, caller, demand_id)
    return full_view(caller, demand, timeline, attachment_list(ctx, caller, demand_id))


def attachment_list(ctx: Context, caller: Caller, demand_id: str) -> list[dict[str, Any]]:
    """A demand's attachments (what they are, not their bytes), if the caller may read the demand."""
    with unit_of_work(ctx.sessions) as session:
        _readable(session, caller, demand_id)
        return [attachment_view(a) for a in repository.attachments_of(session, demand_id)]


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    return {"id": attachment.id, "filename": attachment.filename, "content_type": attachment.content_type,
            "size": attachment.size, "sha256": attachment.sha256, "location_kept": attachment.location_kept,
            "uploaded_by": attachment.uploaded_by, "uploaded_at": attachment.uploaded_at}


def attachment_file(ctx: Context, caller: Caller, demand_id: str, attachment_id: str) -> Attachment:
    """One attachment with its bytes, for whoever may read its demand (refused: not_found, or forbidden)."""
    with unit_of_work(ctx.sessions) as session:
        _readable(session, caller, demand_id)
        found = repository.attachment_with_data(session, demand_id, attachment_id) \
            if is_demand_id(attachment_id) else None
    if found is None:
        raise IntakeRefused("not_found", f"no attachment {attachment_id} of demand {demand_id}")
    return found


def visible_demands(caller: Caller, street: str | None = None) -> Select[tuple[Demand]]:
    """SELECT of the demands the caller may list, newest first; a street-bound caller asking for another
    street is refused (forbidden) rather than shown an empty page."""
    query = select(Demand).order_by(Demand.received_at.desc(), Demand.id.desc())
    if caller.role in STREET_BOUND_READERS:
        if street is not None and street != caller.street:
            raise IntakeRefused("forbidden", f"you may list demands of your street ({caller.street}) only")
        return query.where(Demand.street == caller.street)
    scope = read_scope(caller)
    if scope.everything:
        return query
    conditions = [Demand.created_by == caller.subject, Demand.assignee_id == caller.subject]
    if EVERY_STREET in scope.streets:
        return query
    if scope.streets:
        conditions.append(Demand.street.in_(sorted(scope.streets)))
    if scope.officer_id is not None:
        conditions.append(Demand.chief_officer_id == scope.officer_id)
    return query.where(or_(*conditions))


def list_page(ctx: Context, caller: Caller, filters: dict[str, Any]) -> dict[str, Any]:
    """One page of the demand list (keyset pagination on received_at, id; newest first)."""
    query = visible_demands(caller, filters.get("street"))
    for name in ("street", "channel", "category", "status"):
        if filters.get(name):
            query = query.where(getattr(Demand, name) == filters[name])
    if filters.get("uscc"):
        query = query.where(Demand.enterprise_uscc == filters["uscc"])
    if filters.get("reported_from"):
        query = query.where(Demand.reported_at >= filters["reported_from"])
    if filters.get("reported_to"):
        query = query.where(Demand.reported_at < filters["reported_to"])
    if filters.get("cursor"):
        at, last_id = decode_cursor(filters["cursor"])
        query = query.where(tuple_(Demand.received_at, Demand.id) < tuple_(literal(at, UTCDateTime()), last_id))
    limit = filters["limit"]
    with unit_of_work(ctx.sessions) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [summary_view(caller, d) for d in rows],
            "next_cursor": encode_cursor(rows[-1]) if more else None}


def encode_cursor(demand: Demand) -> str:
    """The opaque position after ``demand`` in the newest-first list."""
    raw = json.dumps([instant_text(demand.received_at), demand.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor stands for (refused as invalid if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, demand_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if moment_problem(moment) or not isinstance(demand_id, str) or not is_demand_id(demand_id):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise IntakeRefused("invalid", INVALID, {"cursor": ["not a cursor returned by this API"]}) from None
    return moment, demand_id


def summary_view(caller: Caller, demand: Demand) -> dict[str, Any]:
    """The demand as this caller may see it (phone masked unless they work it or supervise the street)."""
    phone = demand.contact_phone
    if not sees_phone(caller, demand.street, demand.assignee_id):
        phone = mask_phone(phone)
    return {
        "id": demand.id, "status": demand.status, "channel": demand.channel, "street": demand.street,
        "grid": demand.grid, "category": demand.category, "complexity": demand.complexity, "title": demand.title,
        "enterprise": {"name": demand.enterprise_name, "uscc": demand.enterprise_uscc,
                       "key_enterprise": demand.key_enterprise, "chief_officer_id": demand.chief_officer_id,
                       "contact_name": demand.contact_name, "contact_phone": phone},
        "assignee_id": demand.assignee_id, "department": demand.department, "outcome": demand.outcome,
        "satisfaction": demand.satisfaction, "escalated": demand.escalated, "sla_status": demand.sla_status,
        "reported_at": demand.reported_at, "received_at": demand.received_at, "updated_at": demand.updated_at,
    }


def full_view(caller: Caller, demand: Demand, timeline: list[TimelineEntry],
              attachments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The reporter's view: the summary plus description, warnings, the whole timeline and the attachments."""
    submitted = {"kind": "submitted", "at": demand.received_at, "actor_id": demand.created_by,
                 "details": {"channel": demand.channel, "reported_at": instant_text(demand.reported_at)}}
    return {
        **summary_view(caller, demand), "description": demand.description, "created_by": demand.created_by,
        "warnings": demand.warnings or {},
        "timeline": [submitted] + [_entry_view(demand.id, t) for t in timeline],
        "attachments": attachments or [],
    }


# Instants a timeline entry's details may hold: entries stored before the convention of shared.instants kept
# the offset they were given (+08:00 or +00:00), so they are written again in UTC with Z.
_DETAIL_INSTANTS = ("target_at", "reported_at")


def _entry_view(demand_id: str, entry: TimelineEntry) -> dict[str, Any]:
    """One timeline entry; an entry of a demand merged into this one names that demand (``merged_from``)."""
    details = entry.details or {}
    details = {**details, **{k: instant_text(parse_instant(details[k])) for k in _DETAIL_INSTANTS
                             if isinstance(details.get(k), str)}}
    if entry.demand_id != demand_id:
        details = {**details, "merged_from": demand_number(entry.demand_id)}
    return {"kind": entry.kind, "at": entry.at, "actor_id": entry.actor_id, "details": details}


def likely_duplicates(ctx: Context, caller: Caller, uscc: str, category: str, now: datetime,
                      exclude: str | None = None) -> list[dict[str, Any]]:
    """The open demands of this enterprise and category received in the last N days (policy), newest first, as
    the person logging may see them: number, title, status and when received (no personal data), and the id
    only where the caller may open the demand."""
    with unit_of_work(ctx.sessions) as session:
        found = repository.likely_duplicates(session, uscc, category, duplicate_since(now), MAX_DUPLICATES, exclude)
        return [{"id": d.id if may_read(caller, d.street, d.assignee_id, d.chief_officer_id, d.created_by) else None,
                 "number": demand_number(d.id), "title": d.title, "status": d.status, "received_at": d.received_at}
                for d in found]


def duplicate_demands(ctx: Context, demand: Demand) -> list[Demand]:
    """The open demands ``demand`` may repeat as of now (for a replayed logging, which stored nothing new)."""
    with unit_of_work(ctx.sessions) as session:
        found = repository.likely_duplicates(session, demand.enterprise_uscc, demand.category,
                                             duplicate_since(demand.received_at), MAX_DUPLICATES + 1, demand.id)
    return [d for d in found if d.received_at <= demand.received_at][:MAX_DUPLICATES]


def logged_by_caller(ctx: Context, caller: Caller, limit: int) -> list[dict[str, Any]]:
    """What the caller logged and may still read, newest first, as summaries (the grid worker's "mine")."""
    query = visible_demands(caller).where(Demand.created_by == caller.subject).limit(limit)
    with unit_of_work(ctx.sessions) as session:
        return [summary_view(caller, d) for d in session.scalars(query)]


def find_enterprises(ctx: Context, text: str, street: str | None, limit: int) -> list[Enterprise]:
    """Registry matches for a USCC prefix or part of a name, those of ``street`` first; names only an earlier
    demand typed are not offered (the look-up would make one reporter's spelling everybody's)."""
    query = (select(Enterprise)
             .where(or_(Enterprise.uscc.startswith(text.upper(), autoescape=True),
                        Enterprise.name.contains(text, autoescape=True)),
                    Enterprise.source != INTAKE_SOURCE)
             .order_by(case((Enterprise.street == street, 0), else_=1), Enterprise.name)
             .limit(limit))
    with unit_of_work(ctx.sessions) as session:
        return list(session.scalars(query))


def requests(ctx: Context, caller: Caller, limit: int, *, ids: Collection[str] | None = None,
             reported_from: datetime | None = None, reported_to: datetime | None = None,
             categories: Collection[str] | None = None, closed: bool | None = None) -> list[Demand]:
    """Open311's request list: the demands the caller may see, newest first, at most ``limit``.

    With ``ids``, those demands (the other filters are not applied, as the spec has it); else those reported
    in [``reported_from``, ``reported_to``), of ``categories``, closed or open for the reporter (``closed``).
    """
    selection = visible_demands(caller)
    if ids is not None:
        selection = selection.where(Demand.id.in_([i for i in ids if is_demand_id(i)]))
    else:
        selection = selection.where(Demand.reported_at >= reported_from, Demand.reported_at < reported_to)
        if categories:
            selection = selection.where(Demand.category.in_(categories))
        if closed is True:
            selection = selection.where(Demand.status.in_(OPEN311_CLOSED))
        elif closed is False:
            selection = selection.where(Demand.status.not_in(OPEN311_CLOSED))
    with unit_of_work(ctx.sessions) as session:
        return list(session.scalars(selection.limit(limit)))


# --- the 12345 hotline desk ------------------------------------------------------------------------------

_NUMBER_RE = re.compile(r"^[0-9a-f]{8}$")


def _phone_matches(text: str) -> ColumnElement[bool] | None:
    """Demands whose contact phone is ``text`` (canonical, with or without an extension); None if it is no phone."""
    try:
        canonical = normalize_phone(text)
    except (ValueError, IndexError):  # IndexError: a lone trunk prefix, as shared.fields.Phone guards too
        return None
    return or_(Demand.contact_phone == canonical, Demand.contact_phone.startswith(f"{canonical}-", autoescape=True))


def enterprises_by_phone(ctx: Context, phone: str, limit: int) -> list[dict[str, Any]]:
    """The enterprises whose earlier demands gave this contact phone, most recent first: a 12345 caller is found
    by the number they call from (the registry has no phones)."""
    matches = _phone_matches(phone)
    if matches is None:
        return []
    query = (select(Demand.enterprise_uscc, Demand.enterprise_name, Demand.street, Demand.key_enterprise,
                    Demand.contact_name).where(matches).order_by(Demand.received_at.desc()).limit(limit * 5))
    found: dict[str, dict[str, Any]] = {}
    with unit_of_work(ctx.sessions) as session:
        for row in session.execute(query):
            found.setdefault(row.enterprise_uscc, {"uscc": row.enterprise_uscc, "name": row.enterprise_name,
                                                   "street": row.street, "key_enterprise": row.key_enterprise,
                                                   "contact_name": row.contact_name})
    return list(found.values())[:limit]


def hotline_search(ctx: Context, caller: Caller, text: str, limit: int) -> list[dict[str, Any]]:
    """The answer to "where is my demand?": the demands the caller may read whose number (its id's first 8
    characters), credit code (prefix), contact phone or enterprise name (part) match ``text``, newest first."""
    text = text.strip()
    if not text:
        return []
    conditions: list[ColumnElement[bool]] = [Demand.enterprise_name.contains(text, autoescape=True),
                                             Demand.enterprise_uscc.startswith(text.upper(), autoescape=True)]
    compact = text.replace("-", "").lower()
    if _NUMBER_RE.match(compact):
        conditions.append(Demand.id.startswith(compact))
    if is_demand_id(text.lower()):
        conditions.append(Demand.id == text.lower())
    phone = _phone_matches(text)
    if phone is not None:
        conditions.append(phone)
    query = visible_demands(caller).where(or_(*conditions)).limit(limit)
    with unit_of_work(ctx.sessions) as session:
        return [summary_view(caller, d) for d in session.scalars(query)]


def awaiting_callback(ctx: Context, caller: Caller, limit: int) -> list[dict[str, Any]]:
    """Resolved demands whose enterprise has not been asked yet (no satisfaction recorded): the 回访 calls to
    make, longest waiting first."""
    query = (visible_demands(caller).where(Demand.status == "resolved", Demand.satisfaction.is_(None))
             .order_by(None).order_by(Demand.updated_at, Demand.id).limit(limit))
    with unit_of_work(ctx.sessions) as session:
        return [summary_view(caller, d) for d in session.scalars(query)]


# Intake's statuses of a demand nobody has answered yet (before routing's ``acknowledged``); a transfer
# before the first answer leaves it unanswered, so the timeline decides for ``transferred``.
UNANSWERED_STATUSES = ("submitted", "unassigned", "assigned", "transferred")


def unanswered_online(ctx: Context, caller: Caller, limit: int) -> list[dict[str, Any]]:
    """The online help desk's live list: online demands not yet acknowledged, oldest report first (the
    1-minute first answer runs from ``reported_at``), as summaries with their description and report time."""
    answered = (select(TimelineEntry.id)
                .where(TimelineEntry.demand_id == Demand.id, TimelineEntry.kind == "acknowledged").exists())
    query = (visible_demands(caller).order_by(None)
             .where(Demand.channel == "online_helpdesk", Demand.status.in_(UNANSWERED_STATUSES), ~answered)
             .order_by(Demand.reported_at, Demand.id).limit(limit))
    with unit_of_work(ctx.sessions) as session:
        return [{**summary_view(caller, d), "description": d.description} for d in session.scalars(query)]


# --- the enterprise's private link -------------------------------------------------------------------


def closed_at(session: Session, demand_id: str) -> datetime | None:
    """When the demand ended (its last ``closed``, or its withdrawal, rejection or merge), or None while it is
    open."""
    return session.scalar(select(func.max(TimelineEntry.at)).where(TimelineEntry.demand_id == demand_id,
                                                                   TimelineEntry.kind.in_(ENDING_KINDS)))


def link_issued(ctx: Context, demand_id: str) -> tuple[datetime, datetime | None] | None:
    """When the demand's enterprise link was last issued and when it expires, or None if it never was (the
    caller's right to read the demand is checked before: this says nothing secret)."""
    with unit_of_work(ctx.sessions) as session:
        link = session.get(EnterpriseLink, demand_id)
        return None if link is None else (link.issued_at, link_expires_at(closed_at(session, demand_id)))


def linked_demand(ctx: Context, token: str, now: datetime) -> tuple[Demand, list[TimelineEntry]] | None:
    """The demand a private link opens, with its timeline; None for a token nobody issued, one replaced by a
    newer link, or one whose demand was closed more than 30 days ago (all alike to the visitor)."""
    with unit_of_work(ctx.sessions) as session:
        link = session.scalar(select(EnterpriseLink).where(EnterpriseLink.token_sha256 == token_digest(token)))
        if link is None or not link_alive(closed_at(session, link.demand_id), now):
            return None
        demand = session.get(Demand, link.demand_id)
        timeline = timeline_of(session, link.demand_id)
    return (demand, timeline) if demand is not None else None
