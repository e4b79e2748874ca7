"""Routing's worker process (``python -m routing_service.worker``); what it runs is
:func:`routing_service.bootstrap.worker_spec`."""

from routing_service.bootstrap import bootstrap, worker_spec
from shared.worker import main

if __name__ == "__main__":
    main(bootstrap, worker_spec)
