"""Intake's worker: relays its outbox, projects the demand's progress into the reporter's view, and
re-publishes the ``submitted`` event of demands that stay unrouted (intake_service.timers)."""

from intake_service.handlers import HANDLERS
from intake_service.model import metadata
from intake_service.timers import ResendSweep
from shared.contracts.events import DEMAND_EVENTS, SLA_EVENTS
from shared.worker import WorkerSpec, main

SPEC = WorkerSpec(service="intake", metadata=metadata, topics=[DEMAND_EVENTS, SLA_EVENTS], handlers=HANDLERS,
                  timers=[ResendSweep()])

if __name__ == "__main__":
    main(SPEC)
