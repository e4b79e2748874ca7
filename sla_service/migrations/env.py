"""Alembic environment of the sla service (the shared body lives in shared.migrate)."""

from shared.migrate import run_env
from sla_service.model import metadata

run_env(metadata)
