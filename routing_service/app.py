"""The routing web process (``gunicorn 'routing_service.app:create()'``)."""

from flask import Flask

from routing_service.api import blp
from routing_service.model import metadata
from shared import logs
from shared.config import Settings
from shared.web import create_app


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("routing-web", settings.log_level)
    return create_app("routing", settings, metadata, [blp],
                      "Routes each demand to the right officer; officers work their queues here.")
