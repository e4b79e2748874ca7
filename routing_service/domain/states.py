"""The demand's state machine as routing keeps it: states × actions, and the event each action emits.

States::

    unassigned ──transfer (a supervisor assigns)──▶ assigned ──acknowledge──▶ acknowledged
    acknowledged ──request-materials──▶ awaiting_materials ──materials-received──▶ acknowledged
    assigned | acknowledged | awaiting_materials ──resolve──▶ resolved
    resolved ──feedback satisfied / basically_satisfied──▶ feedback_received
    resolved ──feedback unsatisfied──▶ acknowledged (reopened to the same officer)
    resolved | feedback_received ──close──▶ closed

``transfer`` and ``escalate`` keep the state (the clocks do not restart, so neither does the work): a
transferred demand that was acknowledged stays acknowledged with its new holder. Escalation is a flag on
the demand rather than a state, so that it does not erase where the work stands (e.g. awaiting materials).
"""

from __future__ import annotations

from shared.contracts import events

UNASSIGNED = "unassigned"
ASSIGNED = "assigned"
ACKNOWLEDGED = "acknowledged"
AWAITING_MATERIALS = "awaiting_materials"
RESOLVED = "resolved"
FEEDBACK_RECEIVED = "feedback_received"
CLOSED = "closed"
STATES = (UNASSIGNED, ASSIGNED, ACKNOWLEDGED, AWAITING_MATERIALS, RESOLVED, FEEDBACK_RECEIVED, CLOSED)
# Open: the demand still needs work (and, when someone holds it, counts against their capacity).
OPEN_STATES = frozenset({UNASSIGNED, ASSIGNED, ACKNOWLEDGED, AWAITING_MATERIALS})
HELD_OPEN_STATES = OPEN_STATES - {UNASSIGNED}

ACTIONS = ("acknowledge", "request-materials", "materials-received", "transfer", "resolve", "escalate",
           "feedback", "close")
REOPEN = "reopen"  # not an endpoint: what unsatisfied feedback does after recording the feedback

# (state, action) -> next state. A pair missing here is an invalid transition (HTTP 409).
TRANSITIONS: dict[tuple[str, str], str] = {
    (ASSIGNED, "acknowledge"): ACKNOWLEDGED,
    (ACKNOWLEDGED, "request-materials"): AWAITING_MATERIALS,
    (AWAITING_MATERIALS, "materials-received"): ACKNOWLEDGED,
    (UNASSIGNED, "transfer"): ASSIGNED,
    (ASSIGNED, "transfer"): ASSIGNED,
    (ACKNOWLEDGED, "transfer"): ACKNOWLEDGED,
    (AWAITING_MATERIALS, "transfer"): AWAITING_MATERIALS,
    (ASSIGNED, "resolve"): RESOLVED,
    (ACKNOWLEDGED, "resolve"): RESOLVED,
    (AWAITING_MATERIALS, "resolve"): RESOLVED,
    **{(state, "escalate"): state for state in OPEN_STATES},
    (RESOLVED, "feedback"): FEEDBACK_RECEIVED,
    (FEEDBACK_RECEIVED, REOPEN): ACKNOWLEDGED,
    (RESOLVED, "close"): CLOSED,
    (FEEDBACK_RECEIVED, "close"): CLOSED,
}

EVENT_TYPES = {
    "acknowledge": events.ACKNOWLEDGED,
    "request-materials": events.MATERIALS_REQUESTED,
    "materials-received": events.MATERIALS_RECEIVED,
    "transfer": events.TRANSFERRED,
    "resolve": events.RESOLVED,
    "escalate": events.ESCALATED,
    "feedback": events.FEEDBACK_RECEIVED,
    REOPEN: events.REOPENED,
    "close": events.CLOSED,
}



class InvalidTransition(Exception):
    """``action`` is not allowed in ``state``; the message names both (and what would be allowed)."""

    def __init__(self, state: str, action: str, detail: str = "") -> None:
        allowed = allowed_actions(state)
        super().__init__(
            f"cannot {action} a demand that is {state}{detail}"
            f" (allowed now: {', '.join(allowed) if allowed else 'nothing'})"
        )
        self.state = state
        self.action = action


def allowed_actions(state: str) -> list[str]:
    return [action for action in ACTIONS if (state, action) in TRANSITIONS]


def next_state(state: str, action: str) -> str:
    """The state after ``action``; raises InvalidTransition when the table has no such transition."""
    try:
        return TRANSITIONS[(state, action)]
    except KeyError:
        raise InvalidTransition(state, action) from None
