"""The 12345 hotline desk (``hotline_agent``): log a call, answer "where is my demand?", make the 回访 call."""

from __future__ import annotations

from shared.webkit.pages import page_blueprint

bp = page_blueprint("hotline", __name__, template_folder="../templates")
