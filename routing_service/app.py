"""The routing web process (``gunicorn 'routing_service.app:create()'``)."""

from __future__ import annotations

from flask import Flask

from routing_service.bootstrap import Context, bootstrap
from routing_service.http import admin_api, admin_pages, alerts_pages, api, pages, supervisor_pages
from routing_service.metrics import UnassignedCollector
from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages


def create(settings: Settings | None = None, ctx: Context | None = None) -> Flask:
    """The app for ``settings`` (the environment by default), or around a context built already (tests)."""
    ctx = ctx or bootstrap(settings)
    logs.configure("routing-web", ctx.settings.log_level)
    app = create_app(ctx, [api.blp, admin_api.blp],
                     "Routes each demand to the right officer; officers work their queues here; admins keep "
                     "the roster.", collectors=lambda engine: [UnassignedCollector(engine)])
    return install_pages(app, pages.bp, admin_pages.bp, supervisor_pages.bp, alerts_pages.bp)
