"""The SLA web process (``gunicorn 'sla_service.app:create()'``)."""

from __future__ import annotations

from flask import Flask

from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages
from sla_service.bootstrap import Context, bootstrap
from sla_service.http import api, pages
from sla_service.metrics import OpenClocksCollector


def create(settings: Settings | None = None, ctx: Context | None = None) -> Flask:
    """The app of ``ctx``, or of a context built from ``settings`` (a bad policy or calendar stops the start)."""
    settings = ctx.settings if ctx is not None else settings or Settings.from_env()
    logs.configure("sla-web", settings.log_level)
    app = create_app(ctx or bootstrap(settings), [api.blp],
                     "Times every demand against the district's promises on China's working calendar.",
                     collectors=lambda engine: [OpenClocksCollector(engine)])
    return install_pages(app, pages.bp)
