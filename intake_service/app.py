"""The intake web process (``gunicorn 'intake_service.app:create()'``)."""

from flask import Flask

from intake_service.api import blp
from intake_service.model import metadata
from shared import logs
from shared.config import Settings
from shared.web import create_app


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("intake-web", settings.log_level)
    return create_app("intake", settings, metadata, [blp],
                      "Every channel logs an enterprise demand here; the reporter follows its progress.")
