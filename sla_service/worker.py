"""SLA's worker: follows demand.events, fires warnings and breaches on time, relays its outbox."""

from shared.config import Settings
from shared.contracts.events import DEMAND_EVENTS
from shared.worker import WorkerSpec, main
from sla_service.context import install, load_context
from sla_service.handlers import HANDLERS
from sla_service.model import metadata
from sla_service.timer import fire_due_clocks

SPEC = WorkerSpec(service="sla", metadata=metadata, topics=[DEMAND_EVENTS], handlers=HANDLERS,
                  timers=[fire_due_clocks])

if __name__ == "__main__":
    install(load_context(Settings.from_env()))  # a bad policy or calendar file stops the worker at start
    main(SPEC)
