"""SLA policy: the targets of each promise, per channel and complexity, resolved to business seconds.

Targets are business time (see ``shared.calendar``): the operators' file speaks in working days or
business seconds (read and checked by ``sla_service.reference``); here everything is business seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shared.contracts.vocabulary import CHANNELS, COMPLEXITIES

DEFAULT_WARNING_FRACTION = 0.8
DEFAULT_SECONDS_PER_WORKING_DAY = 28_800
# 延期: at most this many approved extensions per demand, each of at most this share of the original
# resolution target (routing enforces them when a supervisor approves; SLA applies what was approved).
DEFAULT_EXTENSION_MAX_COUNT = 1
DEFAULT_EXTENSION_MAX_SHARE = 1.0
# 结案审核: the share of ordinary resolutions routing sends to review (unresolvable outcomes and key
# enterprises always go).
DEFAULT_REVIEW_SAMPLE_SHARE = 0.1


class PolicyError(ValueError):
    """The SLA policy is malformed; the message names the file and the offending key."""


@dataclass(frozen=True)
class SlaPolicy:
    """Resolved targets in business seconds for every channel and complexity."""

    first_response_targets: Mapping[str, int] = field(hash=False)
    resolution_targets: Mapping[str, int] = field(hash=False)
    warning_fraction: float = DEFAULT_WARNING_FRACTION
    seconds_per_working_day: int = DEFAULT_SECONDS_PER_WORKING_DAY
    extension_max_count: int = DEFAULT_EXTENSION_MAX_COUNT
    extension_max_share_of_target: float = DEFAULT_EXTENSION_MAX_SHARE
    review_sample_share: float = DEFAULT_REVIEW_SAMPLE_SHARE
    # Department clocks (OLA): a holder's target per holder group (a department code, or "street" for the
    # street's own officers), and the default for groups not listed; no target at all when both are empty.
    holder_targets: Mapping[str, int] = field(default_factory=dict, hash=False)
    holder_default_seconds: int | None = None

    def __post_init__(self) -> None:
        for name, members in (("first_response", CHANNELS), ("resolution", COMPLEXITIES)):
            targets = getattr(self, f"{name}_targets")
            missing = [m for m in members if m not in targets]
            if missing:
                raise PolicyError(f"{name}.{missing[0]} has no target")
            for key, value in targets.items():
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise PolicyError(f"{name}.{key} must be a positive whole number of seconds, got {value!r}")
            object.__setattr__(self, f"{name}_targets", MappingProxyType(dict(targets)))
        if not 0 < self.warning_fraction < 1:
            raise PolicyError(f"warning_fraction must be between 0 and 1, got {self.warning_fraction!r}")
        count = self.extension_max_count
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise PolicyError(f"extension.max_count must be a whole number >= 0, got {count!r}")
        if not 0 < self.extension_max_share_of_target <= 10:
            raise PolicyError("extension.max_share_of_target must be above 0 and at most 10, "
                              f"got {self.extension_max_share_of_target!r}")
        if not 0 <= self.review_sample_share <= 1:
            raise PolicyError(f"review.sample_share must be between 0 and 1, got {self.review_sample_share!r}")
        for key, value in [*self.holder_targets.items(), ("default", self.holder_default_seconds)]:
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise PolicyError(f"holder.{key} must be a positive whole number of seconds, got {value!r}")
        object.__setattr__(self, "holder_targets", MappingProxyType(dict(self.holder_targets)))

    def first_response_seconds(self, channel: str) -> int:
        """Business seconds allowed before the first acknowledgement of a demand on ``channel``."""
        try:
            return self.first_response_targets[channel]
        except KeyError:
            raise PolicyError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}") from None

    def resolution_seconds(self, complexity: str) -> int:
        """Business seconds allowed to resolve a demand of ``complexity``."""
        try:
            return self.resolution_targets[complexity]
        except KeyError:
            raise PolicyError(
                f"unknown complexity {complexity!r}; expected one of {', '.join(COMPLEXITIES)}"
            ) from None

    def max_extension_seconds(self, complexity: str) -> int:
        """The longest single extension of a ``complexity`` demand's resolution target, in business seconds."""
        return int(self.resolution_seconds(complexity) * self.extension_max_share_of_target)

    def holder_seconds(self, group: str) -> int | None:
        """The business seconds a holder of ``group`` may hold a demand (None: no target for it)."""
        return self.holder_targets.get(group, self.holder_default_seconds)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view for the API, in business seconds (what clocks actually use)."""
        return {
            "first_response_seconds": {c: self.first_response_targets[c] for c in CHANNELS},
            "resolution_seconds": {c: self.resolution_targets[c] for c in COMPLEXITIES},
            "warning_fraction": self.warning_fraction,
            "seconds_per_working_day": self.seconds_per_working_day,
            "extension": {"max_count": self.extension_max_count,
                          "max_share_of_target": self.extension_max_share_of_target},
            "review": {"sample_share": self.review_sample_share},
            "holder": {"default_seconds": self.holder_default_seconds,
                       "department_seconds": dict(self.holder_targets)},
        }
