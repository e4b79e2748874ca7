"""The demand's state machine as routing keeps it: states × actions, and the event each action emits.

States::

    unassigned ──transfer (a supervisor assigns)──▶ assigned ──acknowledge──▶ acknowledged
    acknowledged ──request-materials──▶ awaiting_materials ──materials-received──▶ acknowledged
    assigned | acknowledged | awaiting_materials ──resolve──▶ resolved
    resolved ──feedback satisfied / basically_satisfied──▶ feedback_received
    resolved ──feedback unsatisfied──▶ acknowledged (reopened to the same officer)
    resolved | feedback_received ──close──▶ closed
    acknowledged | awaiting_materials ──request-extension / approve-extension / refuse-extension──▶ (same)
    assigned | acknowledged | awaiting_materials ──return──▶ (same, with the holder routing picks next)
    assigned | acknowledged | awaiting_materials ──resolve (the review policy says so)──▶ under_review
    under_review ──approve-resolution──▶ resolved;  under_review ──send-back──▶ acknowledged
    open | under_review ──withdraw──▶ withdrawn;  open ──reject──▶ rejected;  open ──merge──▶ merged

:func:`mermaid` draws this table as a state diagram (``docs/lifecycle.md`` is its output, checked by a test).

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
UNDER_REVIEW = "under_review"  # resolved by its holder, waiting for the supervisor's review (结案审核)
WITHDRAWN = "withdrawn"  # 撤销: the enterprise withdrew it
REJECTED = "rejected"  # 不予受理: outside the government's remit
MERGED = "merged"  # 重复: closed into the demand that survives
STATES = (UNASSIGNED, ASSIGNED, ACKNOWLEDGED, AWAITING_MATERIALS, UNDER_REVIEW, RESOLVED, FEEDBACK_RECEIVED, CLOSED,
          WITHDRAWN, REJECTED, MERGED)
# Where a demand's life ends; nothing leads out of these.
FINAL_STATES = frozenset({CLOSED, WITHDRAWN, REJECTED, MERGED})
# Open: the demand still needs work (and, when someone holds it, counts against their capacity).
OPEN_STATES = frozenset({UNASSIGNED, ASSIGNED, ACKNOWLEDGED, AWAITING_MATERIALS})
HELD_OPEN_STATES = OPEN_STATES - {UNASSIGNED}

ACTIONS = ("acknowledge", "request-materials", "materials-received", "transfer", "resolve", "escalate",
           "feedback", "close", "request-extension", "approve-extension", "refuse-extension", "return",
           "approve-resolution", "send-back", "withdraw", "reject", "merge")
# Not endpoints: what the commands do after an action, by the rules.
REOPEN = "reopen"  # unsatisfied feedback, after recording it
RESOLVE_FOR_REVIEW = "resolve-for-review"  # ``resolve`` when the review policy says the resolution needs review
EXTENSION_STATES = (ACKNOWLEDGED, AWAITING_MATERIALS)

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
    **{(state, action): state for state in EXTENSION_STATES
       for action in ("request-extension", "approve-extension", "refuse-extension")},
    **{(state, "return"): state for state in HELD_OPEN_STATES},
    **{(state, RESOLVE_FOR_REVIEW): UNDER_REVIEW for state in HELD_OPEN_STATES},
    (UNDER_REVIEW, "approve-resolution"): RESOLVED,
    (UNDER_REVIEW, "send-back"): ACKNOWLEDGED,
    **{(state, "withdraw"): WITHDRAWN for state in (*OPEN_STATES, UNDER_REVIEW)},
    **{(state, "reject"): REJECTED for state in OPEN_STATES},
    **{(state, "merge"): MERGED for state in OPEN_STATES},
}

# The Chinese names the district office uses, beside the English in the diagram (the pages translate through
# shared.webkit.pages.labels; these are for the document only).
CHINESE = {
    UNASSIGNED: "待派单", ASSIGNED: "已派单", ACKNOWLEDGED: "已受理", AWAITING_MATERIALS: "等待补充材料",
    UNDER_REVIEW: "待审核", RESOLVED: "已办结", FEEDBACK_RECEIVED: "已回访", CLOSED: "已结案",
    WITHDRAWN: "已撤销", REJECTED: "不予受理", MERGED: "已合并（重复）",
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
    "request-extension": events.EXTENSION_REQUESTED,
    "approve-extension": events.EXTENSION_APPROVED,
    "refuse-extension": events.EXTENSION_REFUSED,
    "return": events.RETURNED,
    RESOLVE_FOR_REVIEW: events.RESOLVED,
    "approve-resolution": events.REVIEW_APPROVED,
    "send-back": events.SENT_BACK,
    "withdraw": events.WITHDRAWN,
    "reject": events.REJECTED,
    "merge": events.MERGED,
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


# How the diagram names the transitions that are not endpoints.
_INTERNAL = {REOPEN: "feedback unsatisfied (reopen)", RESOLVE_FOR_REVIEW: "resolve (review due)"}


def mermaid() -> str:
    """The transition table as a Mermaid state diagram, English state names with the Chinese beside them.

    Generated, so the document cannot drift from the table: ``docs/lifecycle.md`` embeds this output and a
    test compares them. Transitions that keep the state (transfer, escalate, extensions, return) are drawn as
    self-loops, one per state with the actions joined.
    """
    lines = ["stateDiagram-v2"]
    lines += [f'    state "{state}<br/>{CHINESE[state]}" as {state}' for state in STATES]
    lines.append(f"    [*] --> {UNASSIGNED}: submitted (routed)")
    lines.append(f"    [*] --> {ASSIGNED}: submitted (routed)")
    edges: dict[tuple[str, str], list[str]] = {}
    for (state, action), target in TRANSITIONS.items():
        edges.setdefault((state, target), []).append(_INTERNAL.get(action, action))
    for (state, target), actions in sorted(edges.items(), key=lambda e: (STATES.index(e[0][0]),
                                                                          STATES.index(e[0][1]))):
        lines.append(f"    {state} --> {target}: {', '.join(actions)}")
    lines += [f"    {state} --> [*]" for state in STATES if state in FINAL_STATES]
    return "\n".join(lines) + "\n"
