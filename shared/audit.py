"""The admins' audit: one append-only row per admin change (accounts, the roster, integration tokens).

It lives in the identity store (:data:`shared.auth_store.audit_log`) because that store is the platform's:
the account operations write their row in the same transaction as the change, and routing's roster commands
write theirs before their own transaction commits (so a change that cannot be audited is not made).
The only operations here are :func:`record` and the reads: no code path updates or deletes a row, and on
PostgreSQL a trigger refuses UPDATE, DELETE and TRUNCATE anyway.

``before`` and ``after`` hold only the fields that changed (``None`` when the thing did not exist or is
gone), as JSON. Passwords, hashes and tokens are never written: :func:`record` refuses such a field.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from shared.auth_store import audit_log

# The longest audit page read at once.
MAX_PAGE = 200
SYSTEM = "system"  # the actor of changes made by the platform itself (demo accounts, test fixtures)
# Field names that would carry a secret; record() refuses them (a bug, not data to hide quietly).
SECRETS = frozenset({"password", "password_hash", "initial_password", "token", "access_token", "secret"})


@dataclass(frozen=True)
class Entry:
    """One audit row as the page shows it."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @property
    def fields(self) -> list[str]:
        """The fields named before or after, in a stable order (for "field: before → after" lines)."""
        names = list((self.before or {}).keys())
        return names + [name for name in (self.after or {}) if name not in names]


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields whose value differs, before and after (what an audit row keeps)."""
    names = [name for name in {**before, **after} if before.get(name) != after.get(name)]
    return {n: before.get(n) for n in names}, {n: after.get(n) for n in names}


def _checked(values: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if values is None:
        return None
    leaked = SECRETS & set(values)
    if leaked:
        raise ValueError(f"an audit row never holds a secret ({', '.join(sorted(leaked))})")
    return dict(values)


def record(db: Connection | Engine, actor: str, action: str, target: str, before: Mapping[str, Any] | None,
           after: Mapping[str, Any] | None, at: float | None = None) -> None:
    """Append one row: on a connection, inside its transaction (the change's own); on an engine, in a new one."""
    values = {"at": int(time.time() if at is None else at), "actor": actor[:200], "action": action[:64],
              "target": target[:200], "before": _checked(before), "after": _checked(after)}
    if isinstance(db, Engine):
        with db.begin() as conn:
            conn.execute(insert(audit_log).values(**values))
    else:
        db.execute(insert(audit_log).values(**values))


def latest(engine: Engine, limit: int = 50, before_id: int | None = None, target: str | None = None,
           action: str | None = None) -> list[Entry]:
    """The newest rows first (keyset paging: pass the last id seen as ``before_id``), optionally only those of
    one target or one action."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [Entry(id=int(r.id), at=datetime.fromtimestamp(r.at, UTC), actor=r.actor, action=r.action,
                  target=r.target, before=r.before, after=r.after) for r in rows]


class Journal:
    """The audit on one identity store's engine, for callers outside it (routing's roster commands)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, actor: str, action: str, target: str, before: Mapping[str, Any] | None,
               after: Mapping[str, Any] | None) -> None:
        record(self.engine, actor, action, target, before, after)

    def latest(self, limit: int = 50, before_id: int | None = None, target: str | None = None,
               action: str | None = None) -> list[Entry]:
        return latest(self.engine, limit, before_id, target, action)


__all__ = ["MAX_PAGE", "SYSTEM", "Entry", "Journal", "changes", "latest", "record"]
