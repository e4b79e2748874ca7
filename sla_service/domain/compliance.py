"""The numbers supervisors are judged by, and what one demand contributes to them.

Definitions (the summary, the monthly report and the tests use these):

* **first-response compliance** = first-response clocks ``met`` / clocks ``met`` or ``breached``. A clock
  past its target counts as breached as soon as the breach fires, even before anyone answers; a clock
  still running within its target is not counted yet.
* **on-time resolution rate** = resolution clocks ``met`` / ``met`` or ``breached`` (same rule; a reopened
  clock leaves the counts until it stops again, unless it had already breached).
* **resolution rate** = demands *closed* with outcome ``resolved`` / all *closed* demands, where a demand
  is closed from its ``resolved`` event (any outcome) -- or its ``closed`` event if it was closed without
  one -- until it is reopened (a resolution sent back from review is reopened too).
* **excluded**: a demand *withdrawn* (撤销), *rejected* (不予受理) or *merged* into another (重复) leaves every
  rate's numerator and denominator, whatever its clocks did before; the summary counts it under
  ``withdrawn``, ``rejected`` or ``merged`` instead, not in ``demands`` (the demands the rates count);
  ``reported`` is both together.
* **extended**: a counted demand whose resolution target an approved extension (延期) moved; it counts in
  the rates like any other (met or breached against the extended target), and separately in ``extended``.

Every demand contributes one vector of 0/1 values (:data:`COUNTS`) to the row of its report day
(Asia/Shanghai), street, channel and category; a change adds the difference of its vectors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from shared.calendar import SHANGHAI

# Share of demands that must meet each promise (district plan: 90 % resolved); reported by the summary.
COMPLIANCE_TARGET = 0.9

# The three rates, and for each what a demand in its numerator ("met") or only its denominator ("missed") is.
RATES = ("first_response_compliance", "on_time_resolution_rate", "resolution_rate")
OUTCOMES = ("missed", "met")
# The clock a rate counts (the resolution rate counts closures instead, see the module's definitions).
RATE_CLOCK = {"first_response_compliance": "first_response", "on_time_resolution_rate": "resolution"}
CLOCK_OUTCOME = {"met": "met", "missed": "breached"}  # a counted clock's status for each outcome

# What each demand counts for, in the order of a contribution vector (and of the daily-count columns).
# The demand states that take a demand out of every rate (the routing states of the same names).
EXCLUDED_STATES = ("withdrawn", "rejected", "merged")
COUNTS = ("demands", "first_response_met", "first_response_breached", "resolution_met",
          "resolution_breached", "closed", "closed_resolved", "extended", *EXCLUDED_STATES)
# What a summary says of the excluded demands, in words (pages translate their own).
EXCLUDED_NOTE = ("Withdrawn, rejected and merged demands are excluded from every rate's numerator and "
                 "denominator; they are counted here only.")
Vector = tuple[int, ...]  # one value per COUNTS entry
NOTHING: Vector = (0,) * len(COUNTS)


def report_day(reported_at: datetime) -> date:
    """The day a demand is counted under: its report date in Asia/Shanghai."""
    return reported_at.astimezone(SHANGHAI).date()


def excluded(state: str | None) -> bool:
    """Whether a demand in ``state`` is left out of every rate (withdrawn, rejected, merged)."""
    return state in EXCLUDED_STATES


def contribution(closed: bool, outcome: str | None, statuses: Mapping[str, str], state: str | None = None,
                 extended: bool = False) -> Vector:
    """What one demand adds to its daily row, given whether it is closed, its outcome, its clocks' statuses by
    kind, its state (an excluded one counts only under its state) and whether it was extended."""
    if excluded(state):
        return (0, 0, 0, 0, 0, 0, 0, 0, *(int(state == name) for name in EXCLUDED_STATES))
    first, resolution = statuses.get("first_response"), statuses.get("resolution")
    return (
        1,
        int(first == "met"),
        int(first == "breached"),
        int(resolution == "met"),
        int(resolution == "breached"),
        int(closed),
        int(closed and outcome == "resolved"),
        int(extended),
        0, 0, 0,
    )


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    """A rate with its parts; ``rate`` is null when nothing was counted yet."""
    rate = numerator / denominator if denominator else None
    return {"numerator": numerator, "denominator": denominator, "rate": rate, "target": COMPLIANCE_TARGET,
            "meets_target": None if rate is None else rate >= COMPLIANCE_TARGET}


def rates(counts: Mapping[str, int]) -> dict[str, Any]:
    """The three rates from summed counts, with the extended and the excluded demands counted apart."""
    left_out = sum(counts[name] for name in EXCLUDED_STATES)
    return {
        "demands": counts["demands"],
        "reported": counts["demands"] + left_out,
        "extended": counts["extended"],
        **{name: counts[name] for name in EXCLUDED_STATES},
        "excluded": left_out,
        "excluded_note": EXCLUDED_NOTE,
        "first_response_compliance": ratio(
            counts["first_response_met"], counts["first_response_met"] + counts["first_response_breached"]),
        "on_time_resolution_rate": ratio(
            counts["resolution_met"], counts["resolution_met"] + counts["resolution_breached"]),
        "resolution_rate": ratio(counts["closed_resolved"], counts["closed"]),
    }
