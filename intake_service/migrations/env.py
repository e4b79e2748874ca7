"""Alembic environment of the intake service (the shared body lives in devstack.migrate)."""

from devstack.migrate import run_env
from intake_service.model import metadata

run_env(metadata)
