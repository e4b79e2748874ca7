"""The intake web process (``gunicorn 'intake_service.app:create()'``)."""

from flask import Flask

from intake_service import api, open311, pages
from intake_service.model import metadata
from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("intake-web", settings.log_level)
    app = create_app("intake", settings, metadata, [api.blp, open311.blp],
                     "Every channel logs an enterprise demand here (JSON API and Open311 GeoReport v2); "
                     "the reporter follows its progress.")
    return install_pages(app, pages.bp)
