"""The SLA policy file (``deploy/sla_policy.yaml``) as intake and routing read it.

sla owns the file: it validates every key when it starts (:func:`sla_service.reference.load_policy`) and
keeps the clocks. Intake's pages promise its targets (the deadline told when a demand is filed, the help
desk's minute) and routing's work-order rules use its extension cap and review sample; both read it here,
so that no two services read a key two ways.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DEFAULT_WARNING_FRACTION = 0.8


@dataclass(frozen=True)
class PolicyTargets:
    """The policy's targets in business seconds, and its lifecycle rules, with sla's defaults."""

    first_response: Mapping[str, float]  # by channel; "default" for every other channel
    resolution: Mapping[str, float]  # by complexity
    warning_fraction: float = DEFAULT_WARNING_FRACTION
    max_extensions: int = 1
    max_share_of_target: float = 1.0
    review_sample_share: float = 0.1

    def first_response_for(self, channel: str) -> float | None:
        return self.first_response.get(channel, self.first_response.get("default"))


def _seconds(section: Any, seconds_per_working_day: int) -> dict[str, float]:
    targets: dict[str, float] = {}
    for key, target in (section or {}).items():
        if isinstance(target, dict) and "working_days" in target:
            targets[key] = float(target["working_days"]) * seconds_per_working_day
        elif isinstance(target, dict) and "business_seconds" in target:
            targets[key] = float(target["business_seconds"])
    return targets


def read_policy(path: Path, seconds_per_working_day: int) -> PolicyTargets:
    """The targets and rules of the policy file at ``path`` (working days converted with the calendar's day)."""
    policy = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    extension, review = policy.get("extension") or {}, policy.get("review") or {}
    defaults = PolicyTargets({}, {})
    return PolicyTargets(
        first_response=_seconds(policy.get("first_response"), seconds_per_working_day),
        resolution=_seconds(policy.get("resolution"), seconds_per_working_day),
        warning_fraction=float(policy.get("warning_fraction", defaults.warning_fraction)),
        max_extensions=int(extension.get("max_count", defaults.max_extensions)),
        max_share_of_target=float(extension.get("max_share_of_target", defaults.max_share_of_target)),
        review_sample_share=float(review.get("sample_share", defaults.review_sample_share)))
