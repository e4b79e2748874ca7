"""The policy's extension and review sections (issue 15): read with their defaults, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_service.domain.policy import PolicyError
from sla_service.reference import load_policy
from tests.sla.unit.test_policy import SHIPPED_POLICY, policy_text


def write(tmp_path: Path, **changes: str | None) -> Path:
    path = tmp_path / "sla_policy.yaml"
    path.write_text(policy_text(**changes), encoding="utf-8")
    return path


def test_the_shipped_policy_allows_one_extension_of_the_target_again_and_reviews_a_tenth():
    policy = load_policy(SHIPPED_POLICY)
    assert (policy.extension_max_count, policy.extension_max_share_of_target) == (1, 1.0)
    assert policy.review_sample_share == 0.1
    assert policy.max_extension_seconds("simple") == 5 * 28_800
    assert policy.to_dict()["extension"] == {"max_count": 1, "max_share_of_target": 1.0}
    assert policy.to_dict()["review"] == {"sample_share": 0.1}


def test_the_sections_are_optional_and_a_key_left_out_keeps_its_default(tmp_path):
    policy = load_policy(write(tmp_path))
    assert (policy.extension_max_count, policy.extension_max_share_of_target, policy.review_sample_share) == (
        1, 1.0, 0.1)
    policy = load_policy(write(tmp_path, extension="{max_count: 2}", review="{sample_share: 1}"))
    assert (policy.extension_max_count, policy.extension_max_share_of_target, policy.review_sample_share) == (
        2, 1.0, 1.0)
    assert load_policy(write(tmp_path, extension="{max_count: 0, max_share_of_target: 0.5}")).max_extension_seconds(
        "complex") == 5 * 28_800


@pytest.mark.parametrize(("changes", "named"), [
    ({"extension": "{max_count: -1}"}, "extension.max_count"),
    ({"extension": "{max_count: 1.5}"}, "extension.max_count"),
    ({"extension": "{max_count: true}"}, "extension.max_count"),
    ({"extension": "{max_share_of_target: 0}"}, "extension.max_share_of_target"),
    ({"extension": "{max_share_of_target: .nan}"}, "extension.max_share_of_target"),
    ({"extension": "{max_share_of_target: twice}"}, "extension.max_share_of_target"),
    ({"extension": "{max_days: 3}"}, "extension.max_days"),
    ({"extension": "[1, 1.0]"}, "extension must be a mapping"),
    ({"review": "{sample_share: 1.5}"}, "review.sample_share"),
    ({"review": "{sample_share: -0.1}"}, "review.sample_share"),
    ({"review": "{share: 0.1}"}, "review.share"),
    ({"review": "0.1"}, "review must be a mapping"),
])
def test_a_mistake_is_refused_with_its_key_named(tmp_path, changes, named):
    with pytest.raises(PolicyError) as refused:
        load_policy(write(tmp_path, **changes))
    assert named in str(refused.value) and "sla_policy.yaml" in str(refused.value)
