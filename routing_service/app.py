"""The routing web process (``gunicorn 'routing_service.app:create()'``)."""

from flask import Flask

from routing_service import admin_api, api, pages
from routing_service.metrics import UnassignedCollector
from routing_service.model import metadata
from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("routing-web", settings.log_level)
    app = create_app("routing", settings, metadata, [api.blp, admin_api.blp],
                     "Routes each demand to the right officer; officers work their queues here; admins keep "
                     "the roster.", collectors=lambda engine: [UnassignedCollector(engine)])
    return install_pages(app, pages.bp)
