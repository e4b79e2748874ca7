"""SLA's worker (``python -m sla_service.worker``): follows demand.events, fires warnings and breaches on
time, relays its outbox. A bad policy or calendar file stops it at start."""

from shared.worker import main
from sla_service.bootstrap import bootstrap, worker_spec

if __name__ == "__main__":
    main(bootstrap, worker_spec)
