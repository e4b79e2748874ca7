"""The admin's desk: accounts, the roster, integration tokens and the audit of every admin change."""

from __future__ import annotations

from shared.webkit.pages import page_blueprint

bp = page_blueprint("admin", __name__, template_folder="../templates")
