"""The SLA web process (``gunicorn 'sla_service.app:create()'``)."""

from flask import Flask

from shared import logs
from shared.config import Settings
from shared.web import create_app
from sla_service.api import blp
from sla_service.model import metadata


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("sla-web", settings.log_level)
    return create_app("sla", settings, metadata, [blp],
                      "Times every demand against the district's promises on China's working calendar.")
