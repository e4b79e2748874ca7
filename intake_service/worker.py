"""Intake's worker (``python -m intake_service.worker``): relays its outbox, projects the demand's progress
into the reporter's view, and re-publishes the ``submitted`` event of demands that stay unrouted."""

from intake_service.bootstrap import bootstrap, worker_spec
from shared.worker import main

if __name__ == "__main__":
    main(bootstrap, worker_spec)
