"""The state machine table as pure code: every valid transition and every invalid one."""

from __future__ import annotations

import pytest

from routing_service.domain.states import (
    ACTIONS,
    EVENT_TYPES,
    FINAL_STATES,
    OPEN_STATES,
    REOPEN,
    RESOLVE_FOR_REVIEW,
    STATES,
    TRANSITIONS,
    InvalidTransition,
    allowed_actions,
    next_state,
)
from shared.contracts.events import CATALOGUE

EXPECTED = {
    ("assigned", "acknowledge"): "acknowledged",
    ("acknowledged", "request-materials"): "awaiting_materials",
    ("awaiting_materials", "materials-received"): "acknowledged",
    ("unassigned", "transfer"): "assigned",
    ("assigned", "transfer"): "assigned",
    ("acknowledged", "transfer"): "acknowledged",
    ("awaiting_materials", "transfer"): "awaiting_materials",
    ("assigned", "resolve"): "resolved",
    ("acknowledged", "resolve"): "resolved",
    ("awaiting_materials", "resolve"): "resolved",
    ("unassigned", "escalate"): "unassigned",
    ("assigned", "escalate"): "assigned",
    ("acknowledged", "escalate"): "acknowledged",
    ("awaiting_materials", "escalate"): "awaiting_materials",
    ("resolved", "feedback"): "feedback_received",
    ("feedback_received", REOPEN): "acknowledged",
    ("resolved", "close"): "closed",
    ("feedback_received", "close"): "closed",
    # issue 15: extension, return, review, withdrawal, rejection, merge
    **{(s, a): s for s in ("acknowledged", "awaiting_materials")
       for a in ("request-extension", "approve-extension", "refuse-extension")},
    ("assigned", "return"): "assigned",
    ("acknowledged", "return"): "acknowledged",
    ("awaiting_materials", "return"): "awaiting_materials",
    ("assigned", RESOLVE_FOR_REVIEW): "under_review",
    ("acknowledged", RESOLVE_FOR_REVIEW): "under_review",
    ("awaiting_materials", RESOLVE_FOR_REVIEW): "under_review",
    ("under_review", "approve-resolution"): "resolved",
    ("under_review", "send-back"): "acknowledged",
    **{(s, "withdraw"): "withdrawn"
       for s in ("unassigned", "assigned", "acknowledged", "awaiting_materials", "under_review")},
    **{(s, "reject"): "rejected" for s in ("unassigned", "assigned", "acknowledged", "awaiting_materials")},
    **{(s, "merge"): "merged" for s in ("unassigned", "assigned", "acknowledged", "awaiting_materials")},
}


@pytest.mark.parametrize("state, action", sorted(EXPECTED))
def test_valid_transition(state: str, action: str) -> None:
    assert next_state(state, action) == EXPECTED[(state, action)]


INVALID = [(s, a) for s in STATES for a in ACTIONS if (s, a) not in EXPECTED]


@pytest.mark.parametrize("state, action", INVALID)
def test_invalid_transition_names_the_current_state(state: str, action: str) -> None:
    with pytest.raises(InvalidTransition) as exc:
        next_state(state, action)
    assert f"is {state}" in str(exc.value)
    assert exc.value.state == state


def test_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_final_states_lead_nowhere_and_open_states_allow_escalation() -> None:
    assert all(allowed_actions(s) == [] for s in FINAL_STATES)
    assert not any(state in FINAL_STATES for state, _ in TRANSITIONS)
    assert all("escalate" in allowed_actions(s) for s in OPEN_STATES)


def test_every_action_emits_a_catalogued_event() -> None:
    assert set(EVENT_TYPES) == {*ACTIONS, REOPEN, RESOLVE_FOR_REVIEW}
    assert all(t in CATALOGUE for t in EVENT_TYPES.values())
