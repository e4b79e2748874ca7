"""SLA follows the demand lifecycle on ``demand.events``: opens, pauses, resumes and stops clocks.

=====================  ==========================================================================
event                  effect
=====================  ==========================================================================
submitted              opens ``first_response`` (target per channel) and ``resolution`` (per
                       complexity), both from ``reported_at`` moved to the next business instant
acknowledged           stops ``first_response`` (met, or breached if past its target)
materials_requested    pauses ``resolution`` (awaiting the enterprise)
materials_received     resumes ``resolution``
resolved               stops ``first_response`` if still running and ``resolution``; records the
                       outcome; the demand counts as closed (see ``sla_service.domain.compliance``)
reopened               resumes ``resolution`` from the business time already used; no longer closed
closed                 stops whatever still runs; counts as closed if it was never resolved (with
                       the outcome the event repeats, if any)
extension_approved     moves the ``resolution`` target later by ``business_seconds`` (a new segment:
                       warning and breach re-timed; a breach already reached stays); counts as extended
sent_back              (a resolution refused in review) resumes ``resolution`` as ``reopened`` does
assigned, transferred  the demand's holder from ``at`` (department clocks, ``sla_service.domain.holder``):
                       ends the current holder's span and starts the next; the first holder's span
                       starts with the resolution clock
withdrawn, rejected,   stop every running or paused clock as ``cancelled``; the demand leaves every
merged                 rate and counts under its state instead (see ``sla_service.domain.compliance``)
=====================  ==========================================================================

``resolved`` with ``review: true`` (waiting for 结案审核) stops the clocks like any resolution: the holder's work
ended then; ``review_approved`` only marks the resolution as standing (no clock changes). ``extension_requested``,
``extension_refused`` and ``returned`` change nothing (a return keeps the clocks running): SLA has no handler for
them.

``escalated`` and ``feedback_received`` restart nothing, so SLA has no handler for them (an escalation flags
the demand for the supervisor, the holder keeps it; an unsatisfied feedback comes with its own ``reopened``
event). ``transferred`` and ``assigned`` restart no clock: they only move the holder spans (a ``returned`` is
followed by the ``assigned`` naming the next holder). ``assigned`` also repairs a demand SLA does not time:
one demand's events share a partition and ``submitted`` is always produced first, so its ``submitted`` was
lost for SLA (dead-lettered, say). SLA then *repairs*: it opens both clocks
from the demand's facts that ``assigned`` repeats, at the original ``reported_at`` -- exactly what
``submitted`` would have done -- and counts it in ``yangpu_sla_clocks_repaired_total``. An ``assigned``
from before routing repeated those facts cannot be repaired from: it is logged and counted as
``unrepairable`` (replay the demand's ``submitted`` from the dead-letter topic). A ``submitted`` replayed
after a repair changes nothing: the demand is timed already.

Each change announces the clock's new shape as ``yangpu.sla.clock_updated.v1`` through the outbox. Other
events about a demand SLA never timed are ignored: ``assigned`` comes before any of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.contracts import events
from shared.contracts.events import known
from shared.messaging.consumer import Handler
from sla_service import commands
from sla_service.domain.clock import Clock

if TYPE_CHECKING:
    from sla_service.bootstrap import Context


def handlers(ctx: Context) -> dict[str, Handler]:
    """Event type -> the one command it calls, in the consumer's transaction."""
    return known({
        events.SUBMITTED: lambda session, _, data: commands.open_clocks(
            ctx, session, data, data["enterprise"]["key_enterprise"]),
        events.ASSIGNED: lambda session, _, data: commands.assigned(ctx, session, data),
        events.TRANSFERRED: lambda session, _, data: commands.transferred(ctx, session, data),
        events.ACKNOWLEDGED: lambda session, _, data: commands.change_clock(
            ctx, session, data["demand_id"], "first_response", data["at"], Clock.stop),
        events.MATERIALS_REQUESTED: lambda session, _, data: commands.change_clock(
            ctx, session, data["demand_id"], "resolution", data["at"], Clock.pause),
        events.MATERIALS_RECEIVED: lambda session, _, data: commands.change_clock(
            ctx, session, data["demand_id"], "resolution", data["at"], Clock.resume),
        events.RESOLVED: lambda session, _, data: commands.resolve(
            ctx, session, data["demand_id"], data["at"], data["outcome"], data.get("review", False)),
        events.REOPENED: lambda session, _, data: commands.reopen(ctx, session, data["demand_id"], data["at"]),
        events.SENT_BACK: lambda session, _, data: commands.reopen(ctx, session, data["demand_id"], data["at"]),
        events.REVIEW_APPROVED: lambda session, _, data: commands.approve_review(ctx, session, data["demand_id"]),
        events.CLOSED: lambda session, _, data: commands.close(
            ctx, session, data["demand_id"], data["at"], data.get("outcome")),
        events.EXTENSION_APPROVED: lambda session, _, data: commands.extend(
            ctx, session, data["demand_id"], data["at"], data["business_seconds"]),
        events.WITHDRAWN: lambda session, _, data: commands.exclude(
            ctx, session, data["demand_id"], data["at"], "withdrawn"),
        events.REJECTED: lambda session, _, data: commands.exclude(
            ctx, session, data["demand_id"], data["at"], "rejected"),
        events.MERGED: lambda session, _, data: commands.exclude(
            ctx, session, data["demand_id"], data["at"], "merged", data["into"]),
    })
