"""Who gets a demand, and how urgent each demand is: pure decisions, no database, Flask or bus.

The rules, tried in order for a submitted demand (district plan part (三) 3 and part (四) 1):

1. ``key_enterprise_chief_officer`` — a key enterprise (重点企业) with a chief service officer (首席服务官)
   goes to that officer;
2. ``fallback_window_supervisor`` — the "can't-get-it-done" window (办不成事窗口) goes to the street's supervisor;
3. ``hotline_department_specialist`` — a 12345 enterprise-seat work order goes to a specialist of the
   category's department;
4. ``street_commissioner`` — a street commissioner of the street with the category as a skill, on shift
   now and under capacity: least loaded first, round-robin among equals;
5. ``unassigned`` — nobody eligible: the street's unassigned queue, which its supervisor sees.

A rule whose officer cannot take the demand (switched off duty by an admin, on leave today, or at capacity)
falls through to the next rule, so no officer ever goes over capacity by routing. Duty *hours* gate rule 4
only: rules 1-3 name an owner (the enterprise's own officer, the supervisor, the department) whose queue the
demand should wait in until they are back, whereas rule 4 shares live work among whoever is on shift.

Every choice is deterministic for the same roster state and instant: ties are broken by the round-robin
sequence (the officer who was given work longest ago first), then by roster id.

Who may act on a demand (:func:`may_act`, issue 12):

* the officers' work (acknowledge, materials, resolve, escalate, close): its holder, or a supervisor of its
  street;
* ``transfer``: the same, and an admin anywhere. The targets are :func:`transfer_targets`, one set for the
  transfer form's list and the command: the street officers (chief service officers, street commissioners)
  and the supervisor of the demand's street, and any department specialist of the district. Anyone else is
  ``422`` on ``to_officer`` and changes nothing: another street's officer could act on the demand but intake
  would not show it to them. Off duty or full targets stay in the set and are refused as conflicts (409);
* ``feedback`` (the enterprise's satisfaction, which ends its say on the demand): whoever speaks for the
  enterprise — a grid worker of its street, a 12345 hotline or help-desk agent — and never its holder, so
  nobody rates their own work (``403``). There is no link for the enterprise to answer itself yet.

The further lifecycle (issue 15):

* ``request-extension``, ``merge``: the holder or a supervisor of the street; ``return``: the holder only
  (it is their "not mine");
* ``approve-extension``, ``refuse-extension``, ``reject``: a supervisor of the street only;
* ``approve-resolution``, ``send-back`` (结案审核): a supervisor of the street or an admin, never the holder;
* ``withdraw`` (撤销): whoever speaks for the enterprise, as ``feedback``;
* which resolutions are reviewed is :func:`needs_review`; the longest extension is :func:`extension_cap_days`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from shared.contracts.reference import department_for

if TYPE_CHECKING:
    from shared.auth import Principal

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("chief_service_officer", "street_commissioner", "department_specialist", "supervisor")
EVERY_STREET = "*"

RULE_CHIEF = "key_enterprise_chief_officer"
RULE_FALLBACK = "fallback_window_supervisor"
RULE_HOTLINE = "hotline_department_specialist"
RULE_COMMISSIONER = "street_commissioner"
RULE_UNASSIGNED = "unassigned"
RULE_SUPERVISOR_ASSIGNMENT = "supervisor_assignment"  # a supervisor assigns from the unassigned queue
RULE_TRANSFER = "transfer"
RULE_RETURNED = "returned"  # routing re-decided a demand its holder returned
RULE_REASSIGNMENT = "reassignment"  # an officer's open demands moved on (leave, departure)
REASON_REPEATED_RETURN = "repeated_return"  # the escalation of a demand returned a second time
REASON_OFFICER_UNAVAILABLE = "officer_unavailable"  # the transfer of a bulk reassignment
ROUTING_ACTOR = "routing"  # the actor of what routing does by itself (routing, retries, escalation on breach)
ROUTING_RULES = (RULE_CHIEF, RULE_FALLBACK, RULE_HOTLINE, RULE_COMMISSIONER, RULE_UNASSIGNED)


def parse_minutes(hhmm: str) -> int:
    """'09:30' -> 570; '24:00' is the end of the day (1440). ValueError for anything else."""
    hours, sep, minutes = hhmm.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"expected HH:MM, got {hhmm!r}")
    h, m = int(hours), int(minutes)
    if (h, m) == (24, 0):
        return 1440
    if h > 23 or m > 59:
        raise ValueError(f"{hhmm!r} is not a time of day")
    return h * 60 + m


@dataclass(frozen=True)
class Duty:
    """Weekly shift in Asia/Shanghai local time: ``start`` inclusive, ``end`` exclusive, in minutes."""

    days: frozenset[str]
    start: int
    end: int

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Duty:
        return cls(frozenset(raw["days"]), parse_minutes(raw["from"]), parse_minutes(raw["to"]))

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(SHANGHAI)
        minute = local.hour * 60 + local.minute
        return DAYS[local.weekday()] in self.days and self.start <= minute < self.end


def shanghai_today(now: datetime) -> date:
    """The calendar day in Asia/Shanghai at ``now`` (an aware time): the day leave is counted in."""
    return now.astimezone(SHANGHAI).date()


def on_leave(leave_from: date | None, leave_until: date | None, today: date) -> bool:
    """Whether an officer whose leave runs ``leave_from``..``leave_until`` (Shanghai dates, both inclusive) is on
    leave ``today``. No leave when either end is missing. Routing treats an officer on leave as off duty, at the
    moment of each decision: the leave starts and ends by itself, no timer switches it."""
    if leave_from is None or leave_until is None:
        return False
    return leave_from <= today <= leave_until


@dataclass(frozen=True)
class OfficerState:
    """What routing needs to know about one officer at the moment of a decision."""

    id: str
    kind: str
    streets: frozenset[str]
    department: str | None
    skills: frozenset[str]
    capacity: int
    open_count: int
    last_assigned_seq: int
    on_duty: bool  # the admin's switch, and not on leave today (repository.officer_state)
    duty: Duty

    def serves(self, street: str) -> bool:
        return EVERY_STREET in self.streets or street in self.streets

    @property
    def has_room(self) -> bool:
        """Not switched off duty and under capacity: may be given one more demand."""
        return self.on_duty and self.open_count < self.capacity


@dataclass(frozen=True)
class DemandFacts:
    """The facts of a demand the rules look at."""

    street: str
    channel: str
    category: str
    key_enterprise: bool = False
    chief_officer_id: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome of routing: an officer (or none: the street's unassigned queue) and the rule that chose."""

    rule: str
    officer_id: str | None = None
    seq: int = 0  # the chosen officer's new round-robin sequence

    @property
    def queue(self) -> str:
        return "officer" if self.officer_id else "street_unassigned"


def _pick(pool: Iterable[OfficerState]) -> tuple[OfficerState, int] | None:
    """Least loaded first, then round-robin (longest since last given work), then id; with its new seq."""
    pool = list(pool)
    eligible = [o for o in pool if o.has_room]
    if not eligible:
        return None
    chosen = min(eligible, key=lambda o: (o.open_count, o.last_assigned_seq, o.id))
    return chosen, max(o.last_assigned_seq for o in pool) + 1


def _chief(demand: DemandFacts, officers: Mapping[str, OfficerState]) -> list[OfficerState]:
    if not (demand.key_enterprise and demand.chief_officer_id):
        return []
    chief = officers.get(demand.chief_officer_id)
    return [chief] if chief else []


def street_supervisors(street: str, officers: Iterable[OfficerState]) -> list[OfficerState]:
    return [o for o in officers if o.kind == "supervisor" and o.serves(street)]


def department_specialists(department: str, officers: Iterable[OfficerState]) -> list[OfficerState]:
    return [o for o in officers if o.kind == "department_specialist" and o.department == department]


def _commissioners(demand: DemandFacts, officers: Iterable[OfficerState]) -> list[OfficerState]:
    return [o for o in officers
            if o.kind == "street_commissioner" and o.serves(demand.street) and demand.category in o.skills]


def _pools(demand: DemandFacts, officers: Mapping[str, OfficerState]) -> list[tuple[str, list[OfficerState]]]:
    """Each rule that applies to the demand with the officers it may choose from, in rule order."""
    pools = [(RULE_CHIEF, _chief(demand, officers))]
    if demand.channel == "fallback_window":
        pools.append((RULE_FALLBACK, street_supervisors(demand.street, officers.values())))
    if demand.channel == "hotline_12345":
        pools.append((RULE_HOTLINE, department_specialists(department_for(demand.category), officers.values())))
    pools.append((RULE_COMMISSIONER, _commissioners(demand, officers.values())))
    return pools


def relevant_officer_ids(demand: DemandFacts, officers: Mapping[str, OfficerState]) -> list[str]:
    """Every officer any rule could pick for this demand, sorted (the order rows are locked in)."""
    return sorted({o.id for _, pool in _pools(demand, officers) for o in pool})


def decide(demand: DemandFacts, officers: Mapping[str, OfficerState], now: datetime,
           exclude: Iterable[str] = ()) -> Decision:
    """Apply the rules in order; ``officers`` maps roster id to state (rows locked by the caller).

    ``exclude``: officers who may not be chosen (those who returned the demand, or are being relieved of it).
    """
    excluded = frozenset(exclude)
    if excluded:
        officers = {i: o for i, o in officers.items() if i not in excluded}
    for rule, pool in _pools(demand, officers):
        if rule == RULE_COMMISSIONER:
            pool = [o for o in pool if o.duty.covers(now)]
        picked = _pick(pool)
        if picked:
            return Decision(rule, picked[0].id, picked[1])
    return Decision(RULE_UNASSIGNED)


def pick_specialist(department: str, officers: Mapping[str, OfficerState]) -> Decision | None:
    """A transfer to a department: its least loaded specialist with room, or None."""
    picked = _pick(department_specialists(department, officers.values()))
    return Decision(RULE_TRANSFER, picked[0].id, picked[1]) if picked else None


def escalation_target(street: str, officers: Mapping[str, OfficerState]) -> str | None:
    """The street supervisor an escalation goes to: one on duty if any, then by id."""
    supervisors = sorted(street_supervisors(street, officers.values()), key=lambda o: (not o.on_duty, o.id))
    return supervisors[0].id if supervisors else None


# Who speaks for the enterprise when its verdict (满意度) is recorded: the grid worker of its street, the
# 12345 hotline and help-desk agents who call it back, or the enterprise itself through its private link (a
# principal of role ``enterprise`` whose subject is the demand's id). Never the officer whose work is judged.
ENTERPRISE_VOICES = frozenset({"grid_worker", "hotline_agent", "helpdesk_agent", "enterprise"})
# The online help desk gives an online demand its first answer (the 1-minute promise), whoever holds it.
FIRST_RESPONDERS = {"online_helpdesk": "helpdesk_agent"}
OFFICER_ROLES = ("officer", "supervisor")
# The roles each action's endpoint lets in (``may_act`` then decides on the demand itself).
ACTION_ROLES: dict[str, tuple[str, ...]] = {
    "acknowledge": (*OFFICER_ROLES, *sorted(set(FIRST_RESPONDERS.values()))),
    "transfer": ("officer", "supervisor", "admin"),
    "feedback": tuple(sorted(ENTERPRISE_VOICES)),
    "withdraw": tuple(sorted(ENTERPRISE_VOICES)),
    "approve-extension": ("supervisor",),
    "refuse-extension": ("supervisor",),
    "reject": ("supervisor",),
    "approve-resolution": ("supervisor", "admin"),
    "send-back": ("supervisor", "admin"),
}
SUPERVISOR_ONLY = frozenset({"approve-extension", "refuse-extension", "reject"})
REVIEWS = frozenset({"approve-resolution", "send-back"})
STREET_OFFICER_KINDS = frozenset({"chief_service_officer", "street_commissioner", "supervisor"})


class DemandRef(Protocol):
    """What ``may_act`` needs to know of a demand (routing's assignment row has it)."""

    demand_id: str
    street: str
    channel: str
    officer_id: str | None


def action_roles(action: str) -> tuple[str, ...]:
    """The roles that may call an action at all (officers and supervisors unless the action says otherwise)."""
    return ACTION_ROLES.get(action, OFFICER_ROLES)


def may_act(principal: Principal, demand: DemandRef, action: str | None = None) -> bool:
    """Whether ``principal`` may perform ``action`` on ``demand``.

    Officers' work (acknowledge ... close): the holder, or a supervisor of the street. Transfer also an admin,
    anywhere. Acknowledge also the channel's first responder (a help-desk agent for an online demand).
    Feedback only someone speaking for the enterprise (a grid worker of its street, an agent, the enterprise
    through its link to this demand) and never the holder, so nobody rates their own work.
    """
    street, holder = demand.street, demand.officer_id
    if action in SUPERVISOR_ONLY:
        return principal.role == "supervisor" and principal.street == street
    if action in REVIEWS:  # nobody reviews their own resolution
        return principal.subject != holder and (
            principal.role == "admin" or (principal.role == "supervisor" and principal.street == street))
    if action == "return":
        return principal.role in OFFICER_ROLES and holder is not None and principal.subject == holder
    if action in ("feedback", "withdraw"):
        if principal.subject == holder or principal.role not in ENTERPRISE_VOICES:
            return False
        if principal.role == "enterprise":
            return principal.subject == demand.demand_id
        return principal.role != "grid_worker" or principal.street == street
    if action == "transfer" and principal.role == "admin":
        return True
    if action == "acknowledge" and FIRST_RESPONDERS.get(demand.channel) == principal.role:
        return True
    if principal.role == "supervisor" and principal.street == street:
        return True
    return principal.role in OFFICER_ROLES and holder is not None and principal.subject == holder


def reassignable_streets(principal: Principal, officer: OfficerState) -> frozenset[str] | None:
    """Whose demands ``principal`` may move off ``officer`` in bulk: None for every street (an admin), else the
    streets both the officer and the caller (a supervisor) serve — empty: not allowed."""
    if principal.role == "admin":
        return None
    if principal.role == "supervisor" and principal.street and officer.serves(principal.street):
        return frozenset({principal.street})
    return frozenset()


def may_take(street: str, holder: str | None, officer: OfficerState) -> bool:
    """Whether a demand of ``street`` may be handed to ``officer``: a street officer or the supervisor of that
    street, or any department specialist of the district; not to whoever holds it already.

    Another street's officers are refused: they could act on the demand but intake would not show it to them.
    Duty and capacity are not part of it: they change by the minute and are refused as conflicts.
    """
    if officer.id == holder:
        return False
    if officer.kind == "department_specialist":
        return True
    return officer.kind in STREET_OFFICER_KINDS and officer.serves(street)


def transfer_targets(street: str, holder: str | None, officers: Iterable[OfficerState]) -> list[OfficerState]:
    """Everyone a demand of ``street`` held by ``holder`` may be transferred to, by id: the one set the
    transfer form lists and the transfer command accepts."""
    return sorted((o for o in officers if may_take(street, holder, o)), key=lambda o: o.id)


# --- extension and review (the SLA policy file's ``extension`` and ``review`` sections) ----------------


@dataclass(frozen=True)
class LifecyclePolicy:
    """What routing reads of the SLA policy: the extension cap and the review sample, with the resolution
    targets (business seconds by complexity, ``default`` for the rest) the cap is a share of."""

    max_extensions: int = 1
    max_share_of_target: float = 1.0
    review_sample_share: float = 0.1
    resolution_seconds: Mapping[str, float] = field(default_factory=dict)
    seconds_per_working_day: int = 28_800

    def resolution_target(self, complexity: str) -> float | None:
        return self.resolution_seconds.get(complexity, self.resolution_seconds.get("default"))


MIN_EXTENSION_DAYS = 0.5


def extension_cap_days(policy: LifecyclePolicy, complexity: str) -> float:
    """The most working days one extension may add: a share of the demand's resolution target."""
    target = policy.resolution_target(complexity) or 0.0
    return policy.max_share_of_target * target / policy.seconds_per_working_day


def sample_point(demand_id: str) -> float:
    """A number in [0, 1) fixed by the demand id, so the review sample is the same on every run and process."""
    digest = hashlib.sha256(demand_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def needs_review(demand_id: str, outcome: str, key_enterprise: bool, sample_share: float) -> bool:
    """Whether a resolution waits for the supervisor's review (结案审核): always when the outcome is
    ``unresolvable`` or the enterprise is a key one; otherwise the deterministic ``sample_share`` of demands."""
    if outcome == "unresolvable" or key_enterprise:
        return True
    return sample_point(demand_id) < sample_share


# --- urgency ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClockView:
    """A clock as the last sla event described it."""

    kind: str
    status: str
    target_at: datetime | None
    business_seconds_used: float
    business_seconds_target: int

    def seconds_left(self, now: datetime) -> float | None:
        """Wall-clock seconds until the target (negative once passed); None while paused or without target."""
        if self.target_at is None or self.status == "paused":
            return None
        return (self.target_at - now).total_seconds()


RESPONDED_STATES = frozenset({"acknowledged", "awaiting_materials", "resolved", "feedback_received", "closed"})
FINISHED_STATES = frozenset({"resolved", "feedback_received", "closed"})


def next_due(state: str, clocks: Iterable[ClockView]) -> datetime | None:
    """The nearest deadline still in play for a demand in ``state``, which orders the queues.

    A clock counts while it runs (``running``, or ``breached`` and still running); the first-response
    clock stops mattering once the demand was acknowledged, the resolution clock once it was resolved,
    and a paused clock (awaiting the enterprise's materials) has no deadline.
    """
    due = []
    for clock in clocks:
        if clock.status not in ("running", "breached") or clock.target_at is None:
            continue
        if clock.kind == "first_response" and state in RESPONDED_STATES:
            continue
        if clock.kind == "resolution" and state in FINISHED_STATES:
            continue
        due.append(clock.target_at)
    return min(due, default=None)

