"""Intake's operator-editable reference data: the enterprise registry (``ENTERPRISES_PATH``, by default
``deploy/enterprises.yaml``), loaded by ``python -m devstack.seed`` — the registry import, the only way a
registered name changes — and the district's officer roster (``ROSTER_PATH``), read for the streets each
officer serves: a token names an officer, the roster says where they work (window logging, street reading)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

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
