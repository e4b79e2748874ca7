"""The enterprise registry: loaded from reference data (``deploy/enterprises.yaml``), extended by intake.

A demand's USCC is looked up and, if unknown, added in the same statement on PostgreSQL (an
``INSERT ... ON CONFLICT DO NOTHING`` inside a CTE that also reads the existing row), so logging a demand
costs no extra round trip and takes no row lock on popular enterprises.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import bindparam, false, insert, literal, null, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from intake_service.model import Enterprise
from shared.db import UTCDateTime


@dataclass(frozen=True)
class Registered:
    """An enterprise as the registry knows it; ``added`` when this demand put it there."""

    uscc: str
    name: str
    street: str
    key_enterprise: bool
    chief_officer_id: str | None
    added: bool


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


_COLUMNS = (Enterprise.uscc, Enterprise.name, Enterprise.street, Enterprise.key_enterprise,
            Enterprise.chief_officer_id)
_ENTERPRISES = Enterprise.__table__
_FIND = select(*_COLUMNS).where(Enterprise.uscc == bindparam("uscc"))
_NEW_ROW = {"uscc": bindparam("uscc"), "name": bindparam("name"), "street": bindparam("street"),
            "key_enterprise": false(), "chief_officer_id": null(), "source": literal("intake"),
            "updated_at": bindparam("now", type_=UTCDateTime())}
_ADD = insert(_ENTERPRISES).values(_NEW_ROW)
# PostgreSQL: add-if-new and read-if-known in one statement. When the insert happens the CTE returns the new
# row; when the USCC is known the insert does nothing and the second SELECT (same snapshot) returns it.
_ADDED = (pg_insert(_ENTERPRISES).values(_NEW_ROW).on_conflict_do_nothing(index_elements=["uscc"])
          .returning(*_COLUMNS, literal(True).label("added")).cte("added"))
_FIND_OR_ADD = select(_ADDED).union_all(select(*_COLUMNS, literal(False).label("added"))
                                        .where(Enterprise.uscc == bindparam("uscc")))


def find(session: Session, uscc: str) -> Registered | None:
    """The registered enterprise with this USCC, if any."""
    row = session.connection().execute(_FIND, {"uscc": uscc}).first()
    return Registered(*row, added=False) if row else None


def find_or_add(session: Session, uscc: str, name: str, street: str, now: datetime) -> Registered:
    """The registered enterprise, adding it (as reported, in the demand's street) when it is new.

    Statements are built once at import: building them per call cost more CPU than running them.
    """
    conn = session.connection()
    params = {"uscc": uscc, "name": name, "street": street, "now": now}
    if conn.dialect.name != "postgresql":
        # SQLite: the transaction already holds the database's write lock (BEGIN IMMEDIATE), so read, then add.
        found = find(session, uscc)
        if found:
            return found
        conn.execute(_ADD, params)
        return Registered(uscc, name, street, False, None, added=True)
    row = conn.execute(_FIND_OR_ADD, params).first()
    if row is None:
        # Another transaction added the same new enterprise after this statement's snapshot was taken:
        # our insert did nothing and the snapshot cannot see theirs; a fresh statement can.
        found = find(session, uscc)
        if found is None:
            raise RuntimeError(f"enterprise {uscc} neither added nor found")
        return found
    return Registered(*row)
