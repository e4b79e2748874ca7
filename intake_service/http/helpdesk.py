"""The online help desk's desk (``helpdesk_agent``): online demands with their 1-minute first answer."""

from __future__ import annotations

from shared.webkit.pages import page_blueprint

bp = page_blueprint("helpdesk", __name__, template_folder="../templates")
