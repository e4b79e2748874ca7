"""Routing's worker: assigns submitted demands, follows SLA events, relays its outbox."""

from routing_service.handlers import HANDLERS
from routing_service.model import metadata
from shared.events import DEMAND_EVENTS, SLA_EVENTS
from shared.worker import WorkerSpec, main

SPEC = WorkerSpec(service="routing", metadata=metadata, topics=[DEMAND_EVENTS, SLA_EVENTS], handlers=HANDLERS)

if __name__ == "__main__":
    main(SPEC)
