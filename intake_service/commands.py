"""Intake's write use cases: log a demand, attach a photo or scan to it, project another service's event onto
the reporter's view, and re-publish the ``submitted`` event of a demand nobody routed.

A use case says no with :class:`IntakeRefused`, raised before anything is committed; it never speaks HTTP.

Logging a demand is the hot path: one transaction, one commit, no read it does not need — the registry
look-up and the insert of a new enterprise are one statement, the demand and its ``submitted`` event are
two inserts, and an Idempotency-Key costs nothing until a retry actually collides with the unique index.
The likely duplicates (issue 15) are one read by the USCC index, skipped for an enterprise met for the first time.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from intake_service import announce, repository
from intake_service.domain import INVALID, IntakeRefused
from intake_service.domain.attachments import MAX_PER_DEMAND, clean, may_attach
from intake_service.domain.policy import (
    EVENT_KINDS,
    MAX_DUPLICATES,
    TOKEN_BYTES,
    Caller,
    apply_event,
    demand_number,
    duplicate_since,
    enterprise_name,
    enterprise_warnings,
    is_demand_id,
    link_expires_at,
    logging_refusal,
    may_issue_link,
    may_read,
    request_fingerprint,
    resend_gap,
    timeline_details,
    token_digest,
)
from intake_service.metrics import DEMANDS_LOGGED, RESENDS, UNROUTED_DEMANDS
from intake_service.model import Attachment, Demand, EnterpriseLink
from intake_service.queries import closed_at
from shared.db import unit_of_work

if TYPE_CHECKING:
    from intake_service.bootstrap import Context

log = logging.getLogger(__name__)

RESEND_BATCH = 100  # demands one pass of the resend sweep re-publishes at most


@dataclass(frozen=True)
class Logged:
    """The outcome of logging: the demand, and whether it is the original of an idempotent retry."""

    demand: Demand
    replayed: bool
    likely_duplicates: tuple[str, ...] = ()  # ids of open demands it may repeat (policy.is_likely_duplicate)


def log_demand(ctx: Context, caller: Caller, body: dict[str, Any], idempotency_key: str | None) -> Logged:
    """Store a validated demand and queue its ``submitted`` event in one transaction.

    Refused (nothing stored) when the caller may not log on this channel or street (forbidden), when the
    registry cannot fill in a missing enterprise name (invalid), or when the Idempotency-Key was used with
    another body (conflict). An unknown USCC is added to the registry unconfirmed; a registered name is never
    changed by a demand (a mismatch is a warning on the demand).
    """
    refusal = logging_refusal(caller, body["channel"], body["street"])
    if refusal:
        raise IntakeRefused("forbidden", refusal)
    fingerprint = request_fingerprint(body)
    reported = body["enterprise"]
    now = ctx.now()
    try:
        with unit_of_work(ctx.sessions) as session:
            if reported.get("name") is None:
                found = repository.find_enterprise(session, reported["uscc"])
                if found is None:
                    raise IntakeRefused("invalid", INVALID, {"enterprise.name": [
                        "required: the enterprise registry does not know this USCC, so its name cannot be filled in"]})
                ent = found
            else:
                ent = repository.find_or_add_enterprise(session, reported["uscc"], reported["name"], body["street"],
                                                        now)
            # One indexed read (by USCC) for an enterprise met before; one this demand adds has no demands yet.
            duplicates = () if ent.added else tuple(repository.likely_duplicate_ids(
                session, ent.uscc, body["category"], duplicate_since(now), MAX_DUPLICATES))
            demand = repository.add_demand(session, {
                "id": str(uuid.uuid4()), "status": "submitted", "channel": body["channel"], "street": body["street"],
                "grid": body.get("grid"), "category": body["category"], "complexity": body["complexity"],
                "title": body["title"], "description": body["description"],
                "enterprise_name": enterprise_name(reported.get("name"), ent.name, ent.confirmed),
                "enterprise_uscc": ent.uscc, "key_enterprise": ent.key_enterprise,
                "chief_officer_id": ent.chief_officer_id, "contact_name": reported["contact_name"],
                "contact_phone": reported["contact_phone"], "reported_at": body.get("reported_at") or now,
                "received_at": now, "updated_at": now, "created_by": caller.subject,
                "warnings": enterprise_warnings(reported.get("name"), body["street"], ent.name, ent.street,
                                                ent.confirmed, ent.added) or None,
                "idempotency_key": idempotency_key, "request_hash": fingerprint, "escalated": False,
                "sla_status": "on_track", "submitted_event_id": str(uuid.uuid4()), "submitted_event_at": now,
                "resends": 0,
            })
            announce.submitted(session, demand)  # its id and time are in the row: it can be re-published
    except IntegrityError:
        if idempotency_key is None:
            raise
        return Logged(_original(ctx, caller.subject, idempotency_key, fingerprint), replayed=True)
    DEMANDS_LOGGED.labels(demand.street, demand.channel, demand.category).inc()
    return Logged(demand, replayed=False, likely_duplicates=duplicates)


def _original(ctx: Context, subject: str, key: str, fingerprint: str) -> Demand:
    """The demand a retry with an already used Idempotency-Key refers to (refused if the request differs)."""
    with unit_of_work(ctx.sessions) as session:
        demand = repository.demand_by_idempotency_key(session, subject, key)
    if demand is None:  # the unique index fired for another reason: not ours to hide
        raise RuntimeError("integrity error on a demand insert that is not an idempotent retry")
    if demand.request_hash != fingerprint:
        raise IntakeRefused("conflict", "this Idempotency-Key was already used with a different request",
                            {"Idempotency-Key": [f"already used for demand {demand.id} with a different body"]})
    return demand


def attach_file(ctx: Context, caller: Caller, demand_id: str, data: bytes, declared_name: str | None,
                keep_location: bool) -> Attachment:
    """Store a photo or scan with a demand, its location metadata stripped unless ``keep_location``.

    Refused, storing nothing: not_found / forbidden as for reading the demand; forbidden for a reader who may
    not add files (only whoever logged it, a supervisor of its street, an admin); conflict when the demand
    has :data:`MAX_PER_DEMAND` files; unsupported for a type not accepted; invalid for an unreadable or
    oversized image. The image is decoded outside any transaction; the insert is one short one.
    """
    with unit_of_work(ctx.sessions) as session:
        demand = _attachable(session, caller, demand_id)
        street, created_by = demand.street, demand.created_by
        count = repository.attachment_count(session, demand_id)
    if count >= MAX_PER_DEMAND:
        raise _full()
    cleaned = clean(data, declared_name, keep_location, count + 1)
    row = {"demand_id": demand_id, "filename": cleaned.filename, "content_type": cleaned.content_type,
           "size": len(cleaned.data), "sha256": hashlib.sha256(cleaned.data).hexdigest(),
           "location_kept": cleaned.location_kept, "uploaded_by": caller.subject, "data": cleaned.data}
    for _attempt in range(MAX_PER_DEMAND):  # another upload may take the place counted: count again
        try:
            with unit_of_work(ctx.sessions) as session:
                position = repository.attachment_count(session, demand_id) + 1
                if position > MAX_PER_DEMAND:
                    raise _full()
                return repository.add_attachment(session, {**row, "id": str(uuid.uuid4()), "position": position,
                                                           "uploaded_at": ctx.now()})
        except IntegrityError:
            continue
    log.warning("attachment of demand %s (%s, street %s) lost every race for a place", demand_id, created_by, street)
    raise IntakeRefused("conflict", "other files were being attached at the same time; try again")


def _attachable(session: Session, caller: Caller, demand_id: str) -> Demand:
    """The demand if ``caller`` may add a file to it (refused as reading it would be, then as adding)."""
    demand = session.get(Demand, demand_id) if is_demand_id(demand_id) else None
    if demand is None:
        raise IntakeRefused("not_found", f"no demand {demand_id}")
    if not may_read(caller, demand.street, demand.assignee_id, demand.chief_officer_id, demand.created_by):
        raise IntakeRefused("forbidden", "this demand is not visible to you")
    if not may_attach(caller, demand.street, demand.created_by):
        raise IntakeRefused("forbidden", "only whoever logged the demand, a supervisor of its street or an admin "
                                         "may attach files to it")
    return demand


def _full() -> IntakeRefused:
    return IntakeRefused("conflict", f"a demand has at most {MAX_PER_DEMAND} attachments",
                         {"file": [f"this demand already has {MAX_PER_DEMAND} attachments"]})


def project_event(session: Session, event_id: str, event_type: str, data: dict[str, Any]) -> None:
    """Apply another service's event to the demand it is about, in the consumer's transaction: a timeline
    entry, and the projected columns moved as :func:`~intake_service.domain.policy.apply_event` says.

    Events about demands logged elsewhere are ignored, and an event already projected is not projected again
    (redelivery). A merge (``merged``) also gives the surviving demand one line naming the duplicate, whose
    entries its timeline then shows (:func:`intake_service.queries.timeline_of`). Emits nothing.
    """
    demand_id = data["demand_id"]
    found = repository.projection(session, demand_id)
    if found is None:
        return
    before, updated_at = found
    kind = EVENT_KINDS[event_type]
    if kind == "merged" and before.status == "merged":
        return  # merged once already (a re-sent merge): a duplicate closes into one survivor, once
    if not repository.add_timeline_entry(session, demand_id, event_id, kind, data["at"], data.get("actor_id", "sla"),
                                         timeline_details(kind, data)):
        return
    repository.write_projection(session, demand_id, before, apply_event(before, kind, data),
                                max(updated_at, data["at"]))
    if kind == "merged":
        _join_survivor(session, demand_id, data)


def merge_entry_id(duplicate_id: str) -> str:
    """The survivor's "merged demand N" line has one id per duplicate, so it is written once however often the
    merge is delivered."""
    return f"merged:{duplicate_id}"


def _join_survivor(session: Session, duplicate_id: str, data: dict[str, Any]) -> None:
    survivor_id = data["into"]
    if repository.touch(session, survivor_id, data["at"]):
        repository.add_timeline_entry(session, survivor_id, merge_entry_id(duplicate_id), "merged_in", data["at"],
                                      data.get("actor_id"), {"from": duplicate_id,
                                                             "from_number": demand_number(duplicate_id)})


def resend_unrouted(sessions: sessionmaker[Session], after_s: int, now: datetime) -> int:
    """One pass of the resend sweep: re-publish the original events of the demands due; returns how many.

    A demand is due once it has been submitted for ``after_s``, its event has left the outbox and its back-off
    (:func:`~intake_service.domain.policy.resend_gap`) has passed. Also sets the unrouted gauge.
    """
    cutoff = now - timedelta(seconds=after_s)
    with unit_of_work(sessions) as session:
        due = repository.lock_due_for_resend(session, cutoff, now, RESEND_BATCH)
        for demand in due:
            announce.submitted(session, demand)
            demand.resends += 1
            demand.next_resend_at = now + resend_gap(demand.resends, after_s)
            log.warning("re-published the submitted event of a demand unrouted for %d s (resend %d)",
                        (now - demand.received_at).total_seconds(), demand.resends,
                        extra={"demand_id": demand.id, "original_event_id": demand.submitted_event_id})
        unrouted = repository.count_unrouted(session, cutoff)
    RESENDS.inc(len(due))
    UNROUTED_DEMANDS.set(unrouted)
    return len(due)


@dataclass(frozen=True)
class IssuedLink:
    """A newly issued enterprise link: its token (shown once, never stored) and when it stops working."""

    token: str
    expires_at: datetime | None


def issue_enterprise_link(ctx: Context, caller: Caller, demand_id: str, now: datetime) -> IssuedLink:
    """Give the demand's enterprise a private link, replacing (and so revoking) any earlier one; refused like
    a read (not_found, forbidden) or when the caller's role hands out no links (forbidden)."""
    if not is_demand_id(demand_id):
        raise IntakeRefused("not_found", "no such demand: demand ids are UUIDs")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with unit_of_work(ctx.sessions) as session:
        demand = session.get(Demand, demand_id)
        if demand is None:
            raise IntakeRefused("not_found", f"no demand {demand_id}")
        if not may_issue_link(caller, demand.street, demand.assignee_id, demand.chief_officer_id, demand.created_by):
            raise IntakeRefused("forbidden", "you may not give this demand's enterprise a link to it")
        link = session.get(EnterpriseLink, demand_id, with_for_update=True)
        if link is None:
            session.add(EnterpriseLink(demand_id=demand_id, token_sha256=token_digest(token), issued_by=caller.subject,
                                       issued_at=now))
        else:
            link.token_sha256, link.issued_by, link.issued_at = token_digest(token), caller.subject, now
        expires = link_expires_at(closed_at(session, demand_id))
    return IssuedLink(token, expires)
