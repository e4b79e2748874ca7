"""The intake web process (``gunicorn 'intake_service.app:create()'``)."""

from __future__ import annotations

from flask import Flask

from intake_service.bootstrap import Context, bootstrap
from intake_service.http import api, enterprise_pages, helpdesk_pages, hotline_pages, open311, pages
from shared import logs
from shared.config import Settings
from shared.webkit.app import create_app
from shared.webkit.pages import install_pages

DESCRIPTION = ("Every channel logs an enterprise demand here (JSON API and Open311 GeoReport v2); "
               "the reporter follows its progress.")


def create(settings: Settings | None = None, *, ctx: Context | None = None) -> Flask:
    """The app, from ``settings`` (default: the environment) or from an already built ``ctx`` (the tests share
    one with the worker)."""
    ctx = ctx or bootstrap(settings)
    logs.configure("intake-web", ctx.settings.log_level)
    apis = [api.blp, open311.blp]
    return install_pages(create_app(ctx, apis, DESCRIPTION), pages.bp, helpdesk_pages.bp, hotline_pages.bp,
                         enterprise_pages.bp)
