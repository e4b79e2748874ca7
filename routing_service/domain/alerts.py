"""Who sees which alert, what one webhook delivery means, and which of an officer's demands make a notice.

Alerts (issue 18) come from Alertmanager and concern a street or the district, never one demand: a
supervisor sees the alerts labelled with their street, an admin every alert (district-wide ones, without a
street, are the admins'). Notices are the officer's own: a demand given to them, or one of its clocks
reaching its warning threshold; they are read from the assignments routing keeps, never stored apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.auth import Principal

ALERT_READERS = ("supervisor", "admin")
FEED_ALERTS = "alerts"
FEED_NOTIFICATIONS = "notifications"
# The alerts list shows what fires, and what stopped firing this recently.
RECENT_RESOLVED = timedelta(hours=24)
# An officer's notices look back this far (and a notice older than the officer's read mark is read).
NOTICE_WINDOW = timedelta(days=7)
NOTICES_SHOWN = 10
ALERTS_SHOWN = 200


def alert_street_scope(principal: Principal) -> tuple[bool, str | None]:
    """(everything?, the one street otherwise): an admin sees every alert, a supervisor their street's."""
    return (True, None) if principal.role == "admin" else (False, principal.street)


def one_per_alert(alerts: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A delivery's alerts, one per (fingerprint, startsAt): a later entry wins, except that resolved stays."""
    found: dict[tuple[str, datetime], dict[str, Any]] = {}
    for alert in alerts:
        key = (alert["fingerprint"], alert["startsAt"])
        if found.get(key, {}).get("status") != "resolved":
            found[key] = alert
    return list(found.values())


@dataclass(frozen=True)
class Notice:
    """One thing to tell an officer about one of their demands: ``assigned`` or ``warning`` (``clock`` says
    which clock warned), at ``at``."""

    kind: str
    demand_id: str
    at: datetime
    title: str
    enterprise_name: str | None
    clock: str | None = None

    @property
    def key(self) -> str:
        """Names the notice for the browser, so one notice pops up once."""
        return f"{self.kind}:{self.demand_id}:{self.at.isoformat()}"


def notices(rows: Iterable[Any], since: datetime) -> list[Notice]:
    """The notices of an officer's open demands (rows with demand_id, title, enterprise_name, assigned_at,
    warned_at, warned_clock) after ``since``, newest first. A warning before the demand reached this holder
    is no news to them: the assignment says it."""
    found = []
    for row in rows:
        if row.assigned_at is not None and row.assigned_at > since:
            found.append(Notice("assigned", row.demand_id, row.assigned_at, row.title, row.enterprise_name))
        if row.warned_at is not None and row.warned_at > since and (
                row.assigned_at is None or row.warned_at >= row.assigned_at):
            found.append(Notice("warning", row.demand_id, row.warned_at, row.title, row.enterprise_name,
                                row.warned_clock))
    return sorted(found, key=lambda n: (n.at, n.kind), reverse=True)
