"""Alembic environment of the routing service (the shared body lives in devstack.migrate)."""

from devstack.migrate import run_env
from routing_service.model import metadata

run_env(metadata)
