"""The enterprise's own view of one demand, through a private link (no sign-in)."""

from __future__ import annotations

from shared.webkit.pages import page_blueprint

bp = page_blueprint("enterprise", __name__, template_folder="../templates")
