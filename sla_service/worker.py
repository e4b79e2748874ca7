"""SLA's worker: follows demand.events, fires warnings and breaches on time, relays its outbox."""

from shared.events import DEMAND_EVENTS
from shared.worker import WorkerSpec, main
from sla_service.handlers import HANDLERS
from sla_service.model import metadata

SPEC = WorkerSpec(service="sla", metadata=metadata, topics=[DEMAND_EVENTS], handlers=HANDLERS)

if __name__ == "__main__":
    main(SPEC)
