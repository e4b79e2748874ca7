"""What both HTTP faces of intake (the JSON API and Open311) do: log a demand, read and list demands.

Logging a demand is the hot path: one transaction, one commit, no read it does not need — the registry
look-up and the insert of a new enterprise are one statement, the demand and its ``submitted`` event are
two inserts, and an Idempotency-Key costs nothing until a retry actually collides with the unique index.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Select, insert, literal, or_, select, tuple_
from sqlalchemy.exc import IntegrityError

from intake_service import registry
from intake_service.model import Demand, TimelineEntry
from intake_service.policy import (
    STREET_BOUND_READERS,
    Caller,
    enterprise_warnings,
    logging_refusal,
    may_read,
    read_scope,
    request_fingerprint,
    sees_phone,
)
from shared.auth import Principal
from shared.db import UTCDateTime, unit_of_work
from shared.messaging.outbox import emit
from shared.validation import mask_phone
from shared.webkit.app import api_error, sessions

DEMANDS_LOGGED = Counter("yangpu_intake_demands_logged_total", "Demands logged, by where they came from.",
                         ["street", "channel", "category"])
_INSERT_DEMAND = insert(Demand.__table__)
_DEMAND_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_demand_id(value: str) -> bool:
    """Demand ids are lower-case UUIDs; anything else cannot name a demand (and never reaches the database)."""
    return bool(_DEMAND_ID.match(value))


def caller_of(principal: Principal) -> Caller:
    return Caller(principal.subject, principal.role, principal.street)


@dataclass(frozen=True)
class Logged:
    """The outcome of a POST: the demand, and whether it is the original of an idempotent retry."""

    demand: Demand
    replayed: bool


def log_demand(principal: Principal, body: dict[str, Any], idempotency_key: str | None) -> Logged:
    """Store a validated demand and queue its ``submitted`` event in one transaction (403/409/422 otherwise)."""
    caller = caller_of(principal)
    refusal = logging_refusal(caller, body["channel"], body["street"])
    if refusal:
        api_error(403, refusal)
    fingerprint = request_fingerprint(body)
    reported = body["enterprise"]
    now = datetime.now(UTC)
    try:
        with unit_of_work(sessions()) as session:
            if reported.get("name") is None:
                found = registry.find(session, reported["uscc"])
                if found is None:
                    api_error(422, "some fields are invalid; see errors", {"enterprise.name": [
                        "required: the enterprise registry does not know this USCC, so its name cannot be filled in"]})
                ent = found
            else:
                ent = registry.find_or_add(session, reported["uscc"], reported["name"], body["street"], now)
            row = {
                "id": str(uuid.uuid4()), "status": "submitted", "channel": body["channel"], "street": body["street"],
                "grid": body.get("grid"), "category": body["category"], "complexity": body["complexity"],
                "title": body["title"], "description": body["description"], "enterprise_name": ent.name,
                "enterprise_uscc": ent.uscc, "key_enterprise": ent.key_enterprise,
                "chief_officer_id": ent.chief_officer_id, "contact_name": reported["contact_name"],
                "contact_phone": reported["contact_phone"], "reported_at": body.get("reported_at") or now,
                "received_at": now, "updated_at": now, "created_by": principal.subject,
                "warnings": enterprise_warnings(reported.get("name"), body["street"], ent.name, ent.street) or None,
                "idempotency_key": idempotency_key, "request_hash": fingerprint, "escalated": False,
                "sla_status": "on_track", "submitted_event_id": str(uuid.uuid4()), "submitted_event_at": now,
                "resends": 0,
            }
            demand = Demand(**row)
            session.connection().execute(_INSERT_DEMAND, row)
            emit(session, demand.submitted_event())  # its id and time are in the row: it can be re-published
    except IntegrityError:
        if idempotency_key is None:
            raise
        return Logged(_original(principal.subject, idempotency_key, fingerprint), replayed=True)
    DEMANDS_LOGGED.labels(row["street"], row["channel"], row["category"]).inc()
    return Logged(demand, replayed=False)


def _original(subject: str, key: str, fingerprint: str) -> Demand:
    """The demand a retry with an already used Idempotency-Key refers to (409 if the request differs)."""
    with unit_of_work(sessions()) as session:
        demand = session.scalars(select(Demand).where(Demand.created_by == subject,
                                                      Demand.idempotency_key == key)).first()
    if demand is None:  # the unique index fired for another reason: not ours to hide
        raise RuntimeError("integrity error on a demand insert that is not an idempotent retry")
    if demand.request_hash != fingerprint:
        api_error(409, "this Idempotency-Key was already used with a different request",
                  {"Idempotency-Key": [f"already used for demand {demand.id} with a different body"]})
    return demand


def readable_demand(principal: Principal, demand_id: str) -> tuple[Demand, list[TimelineEntry]]:
    """A demand and its timeline if the caller may read it (404 unknown, 403 not theirs to see)."""
    if not is_demand_id(demand_id):
        api_error(404, "no such demand: demand ids are UUIDs")
    with unit_of_work(sessions()) as session:
        demand = session.get(Demand, demand_id)
        if demand is None:
            api_error(404, f"no demand {demand_id}")
        if not may_read(caller_of(principal), demand.street, demand.assignee_id, demand.chief_officer_id,
                        demand.created_by):
            api_error(403, "this demand is not visible to you")
        timeline = list(session.scalars(select(TimelineEntry).where(TimelineEntry.demand_id == demand_id)
                                        .order_by(TimelineEntry.at, TimelineEntry.id)))
    return demand, timeline


def visible_demands(principal: Principal, street: str | None = None) -> Select[tuple[Demand]]:
    """SELECT of the demands the caller may list, newest first; a street-bound caller asking for another
    street is refused (403) rather than shown an empty page."""
    caller = caller_of(principal)
    query = select(Demand).order_by(Demand.received_at.desc(), Demand.id.desc())
    if caller.role in STREET_BOUND_READERS:
        if street is not None and street != caller.street:
            api_error(403, f"you may list demands of your street ({caller.street}) only")
        return query.where(Demand.street == caller.street)
    scope = read_scope(caller)
    if scope.everything:
        return query
    conditions = [Demand.created_by == caller.subject]
    if scope.street is not None:
        conditions.append(Demand.street == scope.street)
    if scope.officer_id is not None:
        conditions += [Demand.assignee_id == scope.officer_id, Demand.chief_officer_id == scope.officer_id]
    return query.where(or_(*conditions))


def list_page(principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    """One page of the demand list (keyset pagination on received_at, id; newest first)."""
    query = visible_demands(principal, filters.get("street"))
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
    with unit_of_work(sessions()) as session:
        rows = list(session.scalars(query.limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [summary_view(principal, d) for d in rows],
            "next_cursor": encode_cursor(rows[-1]) if more else None}


def encode_cursor(demand: Demand) -> str:
    raw = json.dumps([demand.received_at.astimezone(UTC).isoformat(), demand.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor stands for (422 if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, demand_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(demand_id, str) or not is_demand_id(demand_id):
            raise ValueError("not a cursor")
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        api_error(422, "some fields are invalid; see errors", {"cursor": ["not a cursor returned by this API"]})
    return moment, demand_id


def summary_view(principal: Principal, demand: Demand) -> dict[str, Any]:
    """The demand as this caller may see it (phone masked unless they work it or supervise the street)."""
    phone = demand.contact_phone
    if not sees_phone(caller_of(principal), demand.street, demand.assignee_id):
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


def full_view(principal: Principal, demand: Demand, timeline: list[TimelineEntry]) -> dict[str, Any]:
    """The reporter's view: the summary plus description, warnings and the whole timeline."""
    submitted = {"kind": "submitted", "at": demand.received_at, "actor_id": demand.created_by,
                 "details": {"channel": demand.channel, "reported_at": demand.reported_at.isoformat()}}
    return {
        **summary_view(principal, demand), "description": demand.description, "created_by": demand.created_by,
        "warnings": demand.warnings or {},
        "timeline": [submitted] + [{"kind": t.kind, "at": t.at, "actor_id": t.actor_id, "details": t.details}
                                   for t in timeline],
    }
