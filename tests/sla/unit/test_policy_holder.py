"""The policy's department clocks section (``holder``, issue 16 point 5): optional, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest

from sla_service.domain.policy import PolicyError, SlaPolicy
from sla_service.reference import load_policy
from tests.sla.unit.test_policy import SHIPPED_POLICY, policy_text

DAY = 28_800
TESTS_POLICY = Path(__file__).resolve().parents[2] / "sla_policy.yaml"


def write(tmp_path: Path, holder: str | None) -> Path:
    path = tmp_path / "sla_policy.yaml"
    path.write_text(policy_text(holder=holder), encoding="utf-8")
    return path


def test_the_shipped_policy_gives_every_holder_three_working_days():
    for path in (SHIPPED_POLICY, TESTS_POLICY):
        policy = load_policy(path)
        assert policy.holder_seconds("tax") == policy.holder_seconds("street") == 3 * DAY
        assert policy.to_dict()["holder"] == {"default_seconds": 3 * DAY, "department_seconds": {}}


def test_without_the_section_no_holder_has_a_target_and_a_department_overrides_the_default(tmp_path):
    assert load_policy(write(tmp_path, None)).holder_seconds("tax") is None
    policy = load_policy(write(tmp_path, "{default: {working_days: 3}, departments: {tax: {working_days: 5}, "
                                         "street: {business_seconds: 3600}}}"))
    assert (policy.holder_seconds("tax"), policy.holder_seconds("street"), policy.holder_seconds("commerce")) == (
        5 * DAY, 3600, 3 * DAY)
    only = load_policy(write(tmp_path, "{departments: {justice: {working_days: 0.5}}}"))
    assert (only.holder_seconds("justice"), only.holder_seconds("tax")) == (DAY // 2, None)
    assert load_policy(write(tmp_path, "{default: {working_days: 2}}"), seconds_per_working_day=3600
                       ).holder_seconds("unknown") == 7200


@pytest.mark.parametrize(("holder", "named"), [
    ("3", "holder must be a mapping"),
    ("{target: {working_days: 3}}", "holder.target"),
    ("{default: {working_days: 0}}", "holder.default.working_days"),
    ("{default: {hours: 8}}", "holder.default.hours"),
    ("{default: 3}", "holder.default"),
    ("{departments: [tax]}", "holder.departments must be a mapping"),
    ("{departments: {fire_brigade: {working_days: 1}}}", "holder.departments.fire_brigade"),
    ("{departments: {tax: {working_days: -2}}}", "holder.departments.tax.working_days"),
    ("{departments: {tax: {business_seconds: 1.5}}}", "holder.departments.tax"),
])
def test_a_mistake_is_refused_with_its_key_named(tmp_path, holder, named):
    with pytest.raises(PolicyError) as refused:
        load_policy(write(tmp_path, holder))
    assert named in str(refused.value) and "sla_policy.yaml" in str(refused.value)


def test_the_policy_object_checks_its_holder_targets():
    shipped = load_policy(SHIPPED_POLICY)
    targets = {"first_response_targets": shipped.first_response_targets,
               "resolution_targets": shipped.resolution_targets}
    with pytest.raises(PolicyError, match="holder.tax"):
        SlaPolicy(**targets, holder_targets={"tax": 0})
    with pytest.raises(PolicyError, match="holder.default"):
        SlaPolicy(**targets, holder_default_seconds=True)
