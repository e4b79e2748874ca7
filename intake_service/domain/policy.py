"""Intake's domain rules as pure functions: who may log and read what, how events move a demand, and how
often the ``submitted`` event of a demand nobody routed is re-published.

Nothing here touches Flask, SQL or the bus, so every rule is unit-testable on its own.

Logging rules: grid workers in their street, officers and supervisors at the window (``fallback_window``,
``walk_in``) only in their own streets — an officer's are the streets the roster gives them (the token names
the officer; its street claim is not used), a supervisor's is the street of their token.

Reading rules (the issue leaves them to us; the README of the service repeats them). Whoever may act on a
demand may read it: routing lets its holder and the street's supervisor act, and transfers and escalations
only ever go to the street's officers and supervisor or to a department specialist, all covered here.

* ``grid_worker`` and ``supervisor`` are street-bound: they read and list the demands of their street only.
* ``officer``: the demands they hold (whatever their kind: a department specialist after a transfer too),
  those of key enterprises they are chief service officer (首席服务官) of, and those they logged. A street
  commissioner also reads the streets the roster gives them (they share the street's live work). The
  token's street claim alone widens nothing: anyone can be issued one.
* ``hotline_agent`` and ``helpdesk_agent`` serve the whole district: enterprises call them to ask where a
  demand stands, whatever channel it came in on, so they read every demand (phones masked).
* ``admin`` reads everything (phones masked: administering the system is not working the case).
* Whoever logged a demand may always read it (the reporter's view), and whoever holds it may read it.
  Lists of street-bound roles stay their street's, though: asking for another street is refused (403)
  rather than answered with an empty page.

Contact phone numbers are shown in clear only to the demand's assignee and to supervisors.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts import events
from shared.contracts.events import known
from shared.instants import instant_text

# Which channels each role may log (district plan part (三) 3); the first is the role's default channel.
CHANNELS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "grid_worker": ("grid",),
    "hotline_agent": ("hotline_12345",),
    "helpdesk_agent": ("online_helpdesk",),
    "officer": ("fallback_window", "walk_in"),
    "supervisor": ("fallback_window", "walk_in"),
}
STREET_BOUND_READERS = frozenset({"grid_worker", "supervisor"})
DISTRICT_READERS = frozenset({"hotline_agent", "helpdesk_agent", "admin"})

# The demand's lifecycle as the reporter sees it.
STATUSES = (
    "submitted", "unassigned", "assigned", "in_progress", "awaiting_enterprise", "transferred", "under_review",
    "resolved", "reopened", "closed", "withdrawn", "rejected", "merged",
)
# Done for the reporter: answered, closed, withdrawn (撤销), not accepted (不予受理) or merged into another (重复).
# A resolution under review (结案审核) is still open: the reviewer may send it back.
OPEN311_CLOSED = frozenset({"resolved", "closed", "withdrawn", "rejected", "merged"})
SLA_STATUSES = ("on_track", "warning", "breached")
_DEMAND_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# The resend sweep never waits longer than this between two re-publications of one demand's event.
MAX_RESEND_GAP = timedelta(hours=1)


EVERY_STREET = "*"  # the roster's word for "serves every street" (department specialists)
STREET_READING_KINDS = frozenset({"street_commissioner"})


@dataclass(frozen=True)
class RosterOfficer:
    """What intake needs of an officer in the roster: their kind, the streets they serve, and their name (the
    grid worker's pages say who has a demand, not a roster id)."""

    kind: str
    streets: frozenset[str]
    name: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Caller:
    """The policy's view of who is calling (shared.auth.Principal's fields, and for an officer the roster's
    ``kind`` and ``streets``; the web layer builds it)."""

    subject: str
    role: str
    street: str | None
    kind: str | None = None
    streets: frozenset[str] = frozenset()

    def serves(self, street: str) -> bool:
        """An officer serves the streets the roster gives them; the token's street claim does not count."""
        return EVERY_STREET in self.streets or street in self.streets


def logging_refusal(caller: Caller, channel: str, street: str) -> str | None:
    """Why ``caller`` may not log a demand on ``channel`` in ``street``, or None if they may."""
    allowed = CHANNELS_BY_ROLE.get(caller.role, ())
    if not allowed:
        return f"role {caller.role} may not log demands"
    if channel not in allowed:
        return f"role {caller.role} may log demands only on channel {' or '.join(allowed)}, not {channel}"
    if caller.role in ("grid_worker", "supervisor") and street != caller.street:
        return (f"a {caller.role.replace('_', ' ')} may log demands only in their own street ({caller.street}), "
                f"not in {street}")
    if caller.role == "officer" and not caller.serves(street):
        own = ", ".join(sorted(caller.streets)) or "none in the roster"
        return f"an officer may log demands only in the streets they serve ({own}), not in {street}"
    return None


def default_channel(role: str) -> str | None:
    """The channel a role logs on when a client (Open311) does not say."""
    allowed = CHANNELS_BY_ROLE.get(role, ())
    return allowed[0] if allowed else None


@dataclass(frozen=True)
class ReadScope:
    """Which demands a caller may read: everything, or the union of the conditions that are set."""

    everything: bool = False
    streets: frozenset[str] = frozenset()
    officer_id: str | None = None  # holder or chief service officer


def read_scope(caller: Caller) -> ReadScope:
    """The demands ``caller`` may read besides those they logged or hold (see the module docstring)."""
    if caller.role in DISTRICT_READERS:
        return ReadScope(everything=True)
    if caller.role in STREET_BOUND_READERS:
        return ReadScope(streets=frozenset({caller.street}) if caller.street else frozenset())
    if caller.role == "officer":
        streets = caller.streets if caller.kind in STREET_READING_KINDS else frozenset()
        return ReadScope(streets=streets, officer_id=caller.subject)
    return ReadScope()


def may_read(caller: Caller, street: str, assignee_id: str | None, chief_officer_id: str | None,
             created_by: str) -> bool:
    """Whether ``caller`` may read one demand; whoever logged it or holds it may always read it."""
    scope = read_scope(caller)
    if scope.everything or caller.subject in (created_by, assignee_id):
        return True
    if street in scope.streets or EVERY_STREET in scope.streets:
        return True
    return scope.officer_id is not None and scope.officer_id == chief_officer_id


def sees_phone(caller: Caller, street: str, assignee_id: str | None) -> bool:
    """Contact phones are for the officer working the demand and the street's supervisors."""
    if caller.role == "supervisor":
        return caller.street == street
    return assignee_id is not None and caller.subject == assignee_id


def is_demand_id(value: str) -> bool:
    """Demand ids are lower-case UUIDs; anything else cannot name a demand (and never reaches the database)."""
    return bool(_DEMAND_ID.match(value))


def request_fingerprint(body: dict[str, Any]) -> str:
    """A digest of a validated request body, to tell an idempotent retry from a different request."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def enterprise_name(reported_name: str | None, registered_name: str, confirmed: bool) -> str:
    """The name a demand keeps: the registry's when the registry import confirmed it; else what this reporter
    typed (an earlier reporter's typing is nobody's authority), or the earlier one when nothing was typed."""
    return registered_name if confirmed or reported_name is None else reported_name


def enterprise_warnings(reported_name: str | None, street: str, registered_name: str, registered_street: str,
                        confirmed: bool = True, added: bool = False) -> dict[str, list[str]]:
    """Differences between what the caller typed and the registry: worth a warning, never a refusal, and
    never an overwrite of either side."""
    warnings: dict[str, list[str]] = {}
    if added:  # this demand named the enterprise first: nothing to compare with
        return warnings
    if not confirmed:
        if reported_name is None:
            warnings["enterprise.name"] = [
                f"the name {registered_name!r} was typed with an earlier demand and is not confirmed by the "
                f"registry; check it with the enterprise"]
        elif _squash(reported_name) != _squash(registered_name):
            warnings["enterprise.name"] = [
                f"an earlier demand named this USCC {registered_name!r} (not confirmed by the registry); "
                f"the name is kept as typed, {reported_name!r}"]
        return warnings
    if reported_name is not None and _squash(reported_name) != _squash(registered_name):
        warnings["enterprise.name"] = [
            f"the registry knows this USCC as {registered_name!r}, not {reported_name!r}; the registered name is used"
        ]
    if registered_street != street:
        warnings["street"] = [f"the registry places this enterprise in street {registered_street}, not {street}"]
    return warnings


def _squash(name: str) -> str:
    """Names compare equal despite spacing and full-width/half-width brackets."""
    return "".join(name.split()).replace("（", "(").replace("）", ")")


# --- projecting demand.events and sla.events ------------------------------------------------------------

EVENT_KINDS = known({
    events.ASSIGNED: "assigned",
    events.ACKNOWLEDGED: "acknowledged",
    events.MATERIALS_REQUESTED: "materials_requested",
    events.MATERIALS_RECEIVED: "materials_received",
    events.TRANSFERRED: "transferred",
    events.RESOLVED: "resolved",
    events.ESCALATED: "escalated",
    events.FEEDBACK_RECEIVED: "feedback_received",
    events.REOPENED: "reopened",
    events.CLOSED: "closed",
    events.EXTENSION_REQUESTED: "extension_requested",
    events.EXTENSION_APPROVED: "extension_approved",
    events.EXTENSION_REFUSED: "extension_refused",
    events.RETURNED: "returned",
    events.REVIEW_APPROVED: "review_approved",
    events.SENT_BACK: "sent_back",
    events.WITHDRAWN: "withdrawn",
    events.REJECTED: "rejected",
    events.MERGED: "merged",
    events.WARNING: "sla_warning",
    events.BREACHED: "sla_breached",
    events.CLOCK_RETIMED: "sla_retimed",
})

# Which data fields each kind keeps in the timeline entry's details.
_DETAILS = {
    "assigned": ("officer_id", "officer_kind", "department", "rule", "queue"),
    "acknowledged": (),
    "materials_requested": ("note",),
    "materials_received": (),
    "transferred": ("from_officer_id", "to_officer_id", "to_department", "reason"),
    "resolved": ("outcome", "note"),
    "escalated": ("to_officer_id", "reason", "automatic"),
    "feedback_received": ("satisfaction",),
    "reopened": ("reason",),
    "closed": (),
    "extension_requested": ("working_days", "reason"),
    "extension_approved": ("working_days", "reason"),
    "extension_refused": ("reason",),
    "returned": ("from_officer_id", "reason_code", "note", "returns"),
    "review_approved": ("note",),
    "sent_back": ("reason",),
    "withdrawn": ("reason",),
    "rejected": ("reason_code", "note"),
    "merged": ("into",),
    "sla_warning": ("kind", "status", "target_at", "business_seconds_used", "business_seconds_target"),
    "sla_breached": ("kind", "status", "target_at", "business_seconds_used", "business_seconds_target"),
    "sla_retimed": ("kind", "target_at", "previous_target_at", "calendar_revision"),
}


@dataclass(frozen=True)
class DemandState:
    """The projected columns an event can change."""

    status: str
    assignee_id: str | None
    department: str | None
    outcome: str | None
    satisfaction: str | None
    escalated: bool
    sla_status: str


# Reasons routing writes itself (in English), kept as codes so each reader's page says them in their language
# (shared.webkit.pages.labels, group "reason"); a reason a person typed is kept as typed.
REASON_CODES = {"the resolution deadline was breached": "resolution_breached",
                "the enterprise was not satisfied": "enterprise_unsatisfied"}
REASONED_BY_ROUTING = frozenset({"escalated", "reopened"})  # kinds whose reason routing may write itself
# Reasons routing of issue 15 writes as codes already (routing_service.domain.policy): an escalation after repeated
# returns, or with nobody else eligible, and a bulk reassignment's transfer. Kept as codes too.
ROUTING_REASON_CODES = frozenset({"repeated_return", "no_eligible_officer", "officer_unavailable"})
CODED_BY_ROUTING = REASONED_BY_ROUTING | {"transferred"}


def timeline_details(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON-ready details a timeline entry keeps for an event of ``kind``."""
    details = {key: _jsonable(data.get(key)) for key in _DETAILS[kind]}
    if kind.startswith("sla_"):
        details["clock"] = details.pop("kind")  # first_response | resolution; "kind" is the entry's own
    if kind == "feedback_received" and data.get("comment"):
        details["comment"] = data["comment"]  # the enterprise's own words, when it gave some
    if kind == "merged":
        details["into_number"] = demand_number(data["into"])
    if kind == "resolved" and data.get("review"):
        details["review"] = True  # waits for the supervisor's review (结案审核)
    reason = details.get("reason") or ""
    code = REASON_CODES.get(reason) if kind in REASONED_BY_ROUTING else None
    if code is None and kind in CODED_BY_ROUTING and reason in ROUTING_REASON_CODES:
        code = reason
    if code:
        del details["reason"]
        details["reason_code"] = code
    return details


def apply_event(state: DemandState, kind: str, data: dict[str, Any]) -> DemandState:
    """The demand after one event; events arrive in order per demand (the Kafka key is the demand id)."""
    changes: dict[str, Any] = {}
    if kind == "assigned":
        changes = {"assignee_id": data["officer_id"], "status": "assigned" if data["officer_id"] else "unassigned"}
        if data.get("department"):
            changes["department"] = data["department"]
    elif kind in ("acknowledged", "materials_received"):
        changes = {"status": "in_progress"}
    elif kind == "materials_requested":
        changes = {"status": "awaiting_enterprise"}
    elif kind == "transferred":
        changes = {"status": "transferred", "assignee_id": data.get("to_officer_id")}
        if data.get("to_department"):
            changes["department"] = data["to_department"]
    elif kind == "resolved":  # a resolution the policy sends to review (结案审核) stands only once approved
        changes = {"status": "under_review" if data.get("review") else "resolved", "outcome": data["outcome"]}
    elif kind == "review_approved":
        changes = {"status": "resolved"}
    elif kind == "sent_back":  # back with its holder, as routing's ``acknowledged``: worked on again
        changes = {"status": "in_progress", "outcome": None}
    elif kind in ("withdrawn", "rejected", "merged"):  # the demand's own end; the others keep the status
        changes = {"status": kind}
    elif kind == "escalated":
        changes = {"escalated": True}
    elif kind == "feedback_received":
        changes = {"satisfaction": data["satisfaction"]}
    elif kind == "reopened":
        changes = {"status": "reopened", "outcome": None, "satisfaction": None}
    elif kind == "closed":
        changes = {"status": "closed"}
    elif kind == "sla_warning":
        changes = {"sla_status": "breached" if state.sla_status == "breached" else "warning"}
    elif kind == "sla_breached":
        changes = {"sla_status": "breached"}
    return DemandState(**{**state.__dict__, **changes})


# --- likely duplicates (重复诉求) -------------------------------------------------------------------------

# A demand of the same enterprise (credit code) and category received this recently and still open is offered
# to whoever logs a new one: they may tell the enterprise where it stands instead of filing it twice.
DUPLICATE_WINDOW_DAYS = 30
DUPLICATE_WINDOW = timedelta(days=DUPLICATE_WINDOW_DAYS)
NOT_OPEN_STATUSES = frozenset({"resolved", "closed", "withdrawn", "rejected", "merged"})
MAX_DUPLICATES = 5  # the notice names a few; more would be a list, not a warning


def demand_number(demand_id: str) -> str:
    """The demand's number as people read it out: its id's first 8 characters, upper case."""
    return demand_id.replace("-", "")[:8].upper()


def duplicate_since(now: datetime) -> datetime:
    """The oldest ``received_at`` a likely duplicate of a demand logged at ``now`` may have (inclusive)."""
    return now - DUPLICATE_WINDOW


def is_likely_duplicate(status: str, received_at: datetime, now: datetime) -> bool:
    """Whether a demand of the same credit code and category is a likely duplicate of one logged at ``now``."""
    return status not in NOT_OPEN_STATUSES and received_at >= duplicate_since(now)


# --- the enterprise's private link ----------------------------------------------------------------------

# Who may give an enterprise the link to its demand (besides being allowed to read the demand): the people who
# speak with it. Admins administer the system; they do not hand out links.
LINK_ISSUERS = frozenset({"grid_worker", "officer", "supervisor", "hotline_agent", "helpdesk_agent"})
# The timeline entries that end a demand: closing, and the ends of issue 15 (撤销, 不予受理, 重复).
ENDING_KINDS = ("closed", "withdrawn", "rejected", "merged")
# The link keeps working this long after the demand is closed (or otherwise ended), then it is as if it never
# existed.
LINK_LIFE_AFTER_CLOSING = timedelta(days=30)
TOKEN_BYTES = 18  # 144 random bits, 24 URL-safe characters


def may_issue_link(caller: Caller, street: str, assignee_id: str | None, chief_officer_id: str | None,
                   created_by: str) -> bool:
    """Whether ``caller`` may issue (or re-issue) the enterprise's link to a demand."""
    return caller.role in LINK_ISSUERS and may_read(caller, street, assignee_id, chief_officer_id, created_by)


def token_digest(token: str) -> str:
    """What is stored of a link's token: its SHA-256, so a copy of the database opens no link."""
    return hashlib.sha256(token.encode()).hexdigest()


def link_expires_at(closed_at: datetime | None) -> datetime | None:
    """When a link stops working: 30 days after the demand was closed; None while it is open."""
    return None if closed_at is None else closed_at + LINK_LIFE_AFTER_CLOSING


def link_alive(closed_at: datetime | None, now: datetime) -> bool:
    """Whether a link of a demand closed at ``closed_at`` (None: still open) still opens at ``now``."""
    expires = link_expires_at(closed_at)
    return expires is None or now < expires


def open311_status(status: str) -> str:
    """GeoReport v2 knows two statuses: a resolved demand is ``closed`` for the reporter."""
    return "closed" if status in OPEN311_CLOSED else "open"


def resend_gap(resends: int, after_s: int) -> timedelta:
    """How long to wait after the ``resends``-th resend before the next: ``after_s`` doubled each time, capped."""
    return min(timedelta(seconds=after_s * 2 ** min(resends, 32)), MAX_RESEND_GAP)  # 2**32: no overflow


def _jsonable(value: Any) -> Any:
    return instant_text(value) if isinstance(value, datetime) else value
