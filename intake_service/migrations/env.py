"""Alembic environment of the intake service (the shared body lives in shared.migrate)."""

from intake_service.model import metadata
from shared.migrate import run_env

run_env(metadata)
