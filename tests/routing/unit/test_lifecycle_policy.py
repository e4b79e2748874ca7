"""The lifecycle's pure rules (issue 15): who may take each new action, the review sample, the extension cap,
re-deciding without some officers, and reading the SLA policy file's sections."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from routing_service.domain.policy import (
    RULE_COMMISSIONER,
    RULE_UNASSIGNED,
    LifecyclePolicy,
    decide,
    extension_cap_days,
    may_act,
    needs_review,
    reassignable_streets,
    sample_point,
)
from routing_service.reference import read_lifecycle_policy
from shared.auth import Principal
from tests.routing.unit.test_policy import GRID, STREET, WEDNESDAY_10, officer


@dataclass
class Demand:
    demand_id: str = "d-1"
    street: str = "wujiaochang"
    channel: str = "grid"
    officer_id: str | None = "com-a"


HOLDER = Principal("com-a", "officer", None)
OTHER = Principal("com-b", "officer", None)
SUPERVISOR = Principal("sup-wjc", "supervisor", "wujiaochang")
ELSEWHERE = Principal("sup-cb", "supervisor", "changbai")
ADMIN = Principal("admin-1", "admin", None)
HOTLINE = Principal("hl-1", "hotline_agent", None)
GRID_HERE = Principal("gw-1", "grid_worker", "wujiaochang")
ENTERPRISE = Principal("d-1", "enterprise", None)

WHO_MAY = {
    "request-extension": {HOLDER, SUPERVISOR},
    "approve-extension": {SUPERVISOR},
    "refuse-extension": {SUPERVISOR},
    "return": {HOLDER},
    "approve-resolution": {SUPERVISOR, ADMIN},
    "send-back": {SUPERVISOR, ADMIN},
    "withdraw": {HOTLINE, GRID_HERE, ENTERPRISE},
    "reject": {SUPERVISOR},
    "merge": {HOLDER, SUPERVISOR},
}
EVERYONE = (HOLDER, OTHER, SUPERVISOR, ELSEWHERE, ADMIN, HOTLINE, GRID_HERE, ENTERPRISE,
            Principal("d-2", "enterprise", None), Principal("gw-2", "grid_worker", "changbai"))


@pytest.mark.parametrize("action", sorted(WHO_MAY))
def test_who_may_take_each_new_action(action: str) -> None:
    allowed = {p for p in EVERYONE if may_act(p, Demand(), action)}
    assert allowed == WHO_MAY[action]


def test_nobody_reviews_their_own_resolution() -> None:
    held_by_the_supervisor = Demand(officer_id="sup-wjc", channel="fallback_window")
    assert not may_act(SUPERVISOR, held_by_the_supervisor, "approve-resolution")
    assert may_act(ADMIN, held_by_the_supervisor, "send-back")


def test_unresolvable_outcomes_and_key_enterprises_are_always_reviewed() -> None:
    assert needs_review("any", "unresolvable", False, 0.0)
    assert needs_review("any", "resolved", True, 0.0)
    assert not needs_review("any", "resolved", False, 0.0)
    assert needs_review("any", "explained", False, 1.0)


def test_the_sample_is_deterministic_and_about_its_share() -> None:
    ids = [f"demand-{i}" for i in range(4000)]
    assert [sample_point(i) for i in ids[:50]] == [sample_point(i) for i in ids[:50]]
    chosen = sum(needs_review(i, "resolved", False, 0.1) for i in ids)
    assert 320 <= chosen <= 480  # 10 % of 4000, give or take


def test_the_extension_cap_is_a_share_of_the_resolution_target() -> None:
    policy = LifecyclePolicy(max_share_of_target=0.5, resolution_seconds={"simple": 5 * 28_800,
                                                                          "default": 8 * 28_800})
    assert extension_cap_days(policy, "simple") == 2.5
    assert extension_cap_days(policy, "difficult") == 4.0  # the default target
    assert extension_cap_days(LifecyclePolicy(), "simple") == 0.0  # no target known: no extension


def test_decide_without_the_officers_who_returned_the_demand() -> None:
    assert decide(GRID, STREET, WEDNESDAY_10).officer_id == "com-a"
    assert decide(GRID, STREET, WEDNESDAY_10, exclude={"com-a"}).officer_id == "com-b"
    assert decide(GRID, STREET, WEDNESDAY_10, exclude={"com-a"}).rule == RULE_COMMISSIONER
    assert decide(GRID, STREET, WEDNESDAY_10, exclude={"com-a", "com-b"}).rule == RULE_UNASSIGNED


def test_who_may_reassign_an_officers_demands() -> None:
    com = officer("com-a")
    assert reassignable_streets(ADMIN, com) is None
    assert reassignable_streets(SUPERVISOR, com) == {"wujiaochang"}
    assert reassignable_streets(ELSEWHERE, com) == frozenset()
    assert reassignable_streets(HOLDER, com) == frozenset()


def test_the_policy_file_without_the_sections_gives_the_defaults(tmp_path) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text("resolution:\n  simple: {working_days: 5}\n  default: {business_seconds: 3600}\n")
    policy = read_lifecycle_policy(path, 28_800)
    assert (policy.max_extensions, policy.max_share_of_target, policy.review_sample_share) == (1, 1.0, 0.1)
    assert policy.resolution_seconds == {"simple": 144_000.0, "default": 3600.0}
    path.write_text("extension: {max_count: 0, max_share_of_target: 0.5}\nreview: {sample_share: 0.25}\n")
    policy = read_lifecycle_policy(path, 28_800)
    assert (policy.max_extensions, policy.max_share_of_target, policy.review_sample_share) == (0, 0.5, 0.25)
