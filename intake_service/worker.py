"""Intake's worker: relays its outbox and projects the demand's progress into the reporter's view."""

from intake_service.handlers import HANDLERS
from intake_service.model import metadata
from shared.events import DEMAND_EVENTS, SLA_EVENTS
from shared.worker import WorkerSpec, main

SPEC = WorkerSpec(service="intake", metadata=metadata, topics=[DEMAND_EVENTS, SLA_EVENTS], handlers=HANDLERS)

if __name__ == "__main__":
    main(SPEC)
