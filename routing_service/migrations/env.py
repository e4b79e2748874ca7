"""Alembic environment of the routing service (the shared body lives in shared.migrate)."""

from routing_service.model import metadata
from shared.migrate import run_env

run_env(metadata)
