"""Alembic environment of the sla service (the shared body lives in devstack.migrate)."""

from devstack.migrate import run_env
from sla_service.model import metadata

run_env(metadata)
