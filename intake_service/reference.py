"""Intake's operator-editable reference data: the enterprise registry (``ENTERPRISES_PATH``, by default
``deploy/enterprises.yaml``), loaded by ``python -m devstack.seed`` — the registry import, the only way a
registered name changes — and the district's officer roster (``ROSTER_PATH``), read for the streets each
officer serves: a token names an officer, the roster says where they work (window logging, street reading)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from intake_service.domain.policy import RosterOfficer
from intake_service.model import Enterprise
from shared.config import Settings


def load_enterprises(session: Session, path: Path) -> int:
    """Insert or update every enterprise of the file; returns how many."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["enterprises"]
    now = datetime.now(UTC)
    for entry in entries:
        row = session.get(Enterprise, entry["uscc"]) or Enterprise(uscc=entry["uscc"])
        row.name = entry["name"]
        row.street = entry["street"]
        row.key_enterprise = bool(entry.get("key_enterprise", False))
        row.chief_officer_id = entry.get("chief_officer")
        row.source = "reference"
        row.updated_at = now
        session.add(row)
    return len(entries)


def seed(session: Session, settings: Settings) -> int:
    """Load the enterprise registry named by ``settings``; returns how many enterprises."""
    return load_enterprises(session, settings.enterprises_path)


def load_roster(path: Path) -> Mapping[str, RosterOfficer]:
    """Each officer's kind, streets, name and phone from the roster file (routing validates the file; intake only
    reads it)."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")).get("officers") or []
    return {entry["id"]: RosterOfficer(entry["kind"], frozenset(entry.get("streets") or ()),
                                       str(entry.get("name") or ""), str(entry.get("phone") or ""))
            for entry in entries}


# The SLA policy's warning share when it does not set one (sla's default too).
DEFAULT_WARNING_FRACTION = 0.8


@dataclass(frozen=True)
class Promises:
    """What the SLA policy promises, in business seconds, as intake's pages tell people: the deadline a demand
    is promised when filed, the help desk's first-answer minute. sla validates the file and keeps the clocks;
    intake only reads the targets."""

    first_response: Mapping[str, float]  # by channel; "default" for every other channel
    resolution: Mapping[str, float]  # by complexity
    warning_fraction: float

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


def load_promises(path: Path, seconds_per_working_day: int) -> Promises:
    """The targets of the SLA policy file (deploy/sla_policy.yaml)."""
    policy = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Promises(_seconds(policy.get("first_response"), seconds_per_working_day),
                    _seconds(policy.get("resolution"), seconds_per_working_day),
                    float(policy.get("warning_fraction", DEFAULT_WARNING_FRACTION)))
