"""The SLA web process (``gunicorn 'sla_service.app:create()'``)."""

from flask import Flask

from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages
from sla_service import pages
from sla_service.api import blp
from sla_service.context import installed, load_context
from sla_service.metrics import OpenClocksCollector
from sla_service.model import metadata


def create(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    logs.configure("sla-web", settings.log_level)
    context = installed() or load_context(settings)  # a bad policy or calendar file stops the start
    app = create_app("sla", settings, metadata, [blp],
                     "Times every demand against the district's promises on China's working calendar.",
                     collectors=lambda engine: [OpenClocksCollector(engine)])
    app.extensions["sla"] = context
    return install_pages(app, pages.bp)
