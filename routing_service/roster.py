"""Load the officer roster (YAML in ``deploy/``) into routing's officers table."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from routing_service.model import Officer


def load_roster(session: Session, path: Path) -> int:
    """Insert or update every officer in the file; open-demand counts are kept. Returns the count."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    officers = doc["officers"]
    for entry in officers:
        officer = session.get(Officer, entry["id"]) or Officer(id=entry["id"], open_count=0, last_assigned_seq=0)
        officer.name = entry["name"]
        officer.kind = entry["kind"]
        officer.streets = list(entry.get("streets", []))
        officer.department = entry.get("department")
        officer.skills = list(entry.get("skills", []))
        officer.capacity = int(entry["capacity"])
        officer.duty = dict(entry.get("duty", {}))
        officer.active = True
        session.add(officer)
    return len(officers)
