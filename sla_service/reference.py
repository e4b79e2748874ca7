"""SLA's operator-editable reference data: the policy file (targets) and the working calendar.

Operators edit ``SLA_POLICY_PATH`` and ``CALENDAR_OVERRIDES_PATH``; every mistake in the policy is named
(file and key) when a process starts, or earlier when ``devstack.seed`` validates it. SLA keeps no
reference rows in its database: the files are the reference.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from shared.calendar import BusinessCalendar, calendar_for
from shared.config import Settings
from shared.contracts.reference import DEPARTMENTS
from shared.contracts.vocabulary import CHANNELS, COMPLEXITIES
from sla_service.domain.holder import STREET_GROUP
from sla_service.domain.policy import (
    DEFAULT_EXTENSION_MAX_COUNT,
    DEFAULT_EXTENSION_MAX_SHARE,
    DEFAULT_REVIEW_SAMPLE_SHARE,
    DEFAULT_SECONDS_PER_WORKING_DAY,
    PolicyError,
    SlaPolicy,
)

DURATION_UNITS = ("working_days", "business_seconds")
REQUIRED = ("first_response", "resolution", "warning_fraction")
# The department clocks' section (sla only): a default target and one per holder group, all optional.
HOLDER_KEYS = ("default", "departments")
# Optional sections (routing reads them too), each key with its default when the section or key is left out.
OPTIONAL = {
    "extension": {"max_count": DEFAULT_EXTENSION_MAX_COUNT, "max_share_of_target": DEFAULT_EXTENSION_MAX_SHARE},
    "review": {"sample_share": DEFAULT_REVIEW_SAMPLE_SHARE},
}


def working_calendar(settings: Settings) -> BusinessCalendar:
    """China's working calendar with the operators' entries and the service hours."""
    return calendar_for(settings)


def policy_for(settings: Settings, calendar: BusinessCalendar) -> SlaPolicy:
    """The validated policy named by ``settings``, in the calendar's working days (PolicyError if bad)."""
    return load_policy(settings.sla_policy_path, calendar.seconds_per_working_day)


def seed(session: Session, settings: Settings) -> int:
    """Check the policy and the calendar (a bad file stops ``make run`` early); no rows to load."""
    policy_for(settings, working_calendar(settings))
    return 0


def _duration(raw: Any, where: str, path: Path, seconds_per_working_day: int) -> int:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise PolicyError(
            f"{path}: {where} must be a mapping with exactly one of "
            f"{' or '.join(DURATION_UNITS)}, got {raw!r}"
        )
    ((unit, value),) = raw.items()
    if unit not in DURATION_UNITS:
        raise PolicyError(f"{path}: {where}.{unit}: unknown unit (expected {' or '.join(DURATION_UNITS)})")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise PolicyError(f"{path}: {where}.{unit} must be a positive number, got {value!r}")
    seconds = value * seconds_per_working_day if unit == "working_days" else value
    if seconds != int(seconds):
        raise PolicyError(f"{path}: {where}.{unit}: {value!r} is not a whole number of business seconds")
    return int(seconds)


def _targets(
    data: dict[str, Any], section: str, members: tuple[str, ...], path: Path, seconds_per_working_day: int
) -> dict[str, int]:
    raw = data.get(section)
    if not isinstance(raw, dict) or not raw:
        raise PolicyError(f"{path}: {section} must be a non-empty mapping of targets, got {raw!r}")
    for key in raw:
        if key != "default" and key not in members:
            raise PolicyError(
                f"{path}: {section}.{key}: unknown key (expected 'default' or one of {', '.join(members)})"
            )
    parsed = {key: _duration(value, f"{section}.{key}", path, seconds_per_working_day) for key, value in raw.items()}
    out: dict[str, int] = {}
    for member in members:
        if member in parsed:
            out[member] = parsed[member]
        elif "default" in parsed:
            out[member] = parsed["default"]
        else:
            raise PolicyError(f"{path}: {section}.{member} is missing and there is no {section}.default")
    return out


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _section(data: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    """An optional section with its defaults filled in; an unknown key or a non-mapping is refused by name."""
    defaults = OPTIONAL[name]
    raw = data.get(name)
    if raw is None:
        return dict(defaults)
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: {name} must be a mapping with {', '.join(defaults)}, got {raw!r}")
    for key in raw:
        if key not in defaults:
            raise PolicyError(f"{path}: {name}.{key}: unknown key (expected {', '.join(defaults)})")
    return {**defaults, **raw}


def _extension(data: dict[str, Any], path: Path) -> tuple[int, float]:
    section = _section(data, "extension", path)
    count, share = section["max_count"], section["max_share_of_target"]
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise PolicyError(f"{path}: extension.max_count must be a whole number >= 0, got {count!r}")
    if not _number(share) or not 0 < share <= 10:
        raise PolicyError(f"{path}: extension.max_share_of_target must be a number above 0 and at most 10 "
                          f"(1.0 = the original resolution target again), got {share!r}")
    return count, float(share)


def _review(data: dict[str, Any], path: Path) -> float:
    share = _section(data, "review", path)["sample_share"]
    if not _number(share) or not 0 <= share <= 1:
        raise PolicyError(f"{path}: review.sample_share must be a number between 0 and 1 (inclusive), got {share!r}")
    return float(share)


def _holder(data: dict[str, Any], path: Path, seconds_per_working_day: int) -> tuple[dict[str, int], int | None]:
    """``holder``: the department clocks' targets (none when the section is left out)."""
    raw = data.get("holder")
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: holder must be a mapping with {' and/or '.join(HOLDER_KEYS)}, got {raw!r}")
    for key in raw:
        if key not in HOLDER_KEYS:
            raise PolicyError(f"{path}: holder.{key}: unknown key (expected {', '.join(HOLDER_KEYS)})")
    default = raw.get("default")
    if default is not None:
        default = _duration(default, "holder.default", path, seconds_per_working_day)
    departments = raw.get("departments") or {}
    if not isinstance(departments, dict):
        raise PolicyError(f"{path}: holder.departments must be a mapping of department codes to targets, "
                          f"got {departments!r}")
    groups = (STREET_GROUP, *DEPARTMENTS)
    for key in departments:
        if key not in groups:
            raise PolicyError(f"{path}: holder.departments.{key}: unknown department "
                              f"(expected {STREET_GROUP!r} or one of {', '.join(DEPARTMENTS)})")
    targets = {str(key): _duration(value, f"holder.departments.{key}", path, seconds_per_working_day)
               for key, value in departments.items()}
    return targets, default


def load_policy(path: Path | str, seconds_per_working_day: int = DEFAULT_SECONDS_PER_WORKING_DAY) -> SlaPolicy:
    """Read and validate the policy file; operators edit it, so every mistake is named."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path}: cannot read SLA policy: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: top level must be a mapping with first_response, resolution, warning_fraction")
    allowed = {*REQUIRED, *OPTIONAL, "holder"}
    for key in data:
        if key not in allowed:
            raise PolicyError(f"{path}: {key}: unknown key (expected {', '.join(sorted(allowed))})")
    for key in sorted(REQUIRED):
        if key not in data:
            raise PolicyError(f"{path}: {key} is missing")
    fraction = data["warning_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise PolicyError(f"{path}: warning_fraction must be a number between 0 and 1 (exclusive), got {fraction!r}")
    max_count, max_share = _extension(data, path)
    holder_targets, holder_default = _holder(data, path, seconds_per_working_day)
    return SlaPolicy(
        first_response_targets=_targets(data, "first_response", CHANNELS, path, seconds_per_working_day),
        resolution_targets=_targets(data, "resolution", COMPLEXITIES, path, seconds_per_working_day),
        warning_fraction=float(fraction),
        seconds_per_working_day=seconds_per_working_day,
        extension_max_count=max_count,
        extension_max_share_of_target=max_share,
        review_sample_share=_review(data, path),
        holder_targets=holder_targets,
        holder_default_seconds=holder_default,
    )
