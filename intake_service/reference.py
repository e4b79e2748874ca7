"""Intake's operator-editable reference data: the enterprise registry (``ENTERPRISES_PATH``, by default
``deploy/enterprises.yaml``), loaded by ``python -m devstack.seed`` and extended by intake as demands come in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

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
