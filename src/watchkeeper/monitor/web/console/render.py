"""Jinja2 rendering with autoescape on, plus the response headers every page gets.

All output goes through autoescape; the only markup built in Python is chart data
(``json_script``), JSON with ``<``, ``>``, ``&`` and the JS line separators escaped
so it can never end its ``<script type="application/json">`` element.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import orjson
from markupsafe import Markup
from starlette.responses import HTMLResponse

from watchkeeper.monitor.web.console.fmt import FILTERS

__all__ = ["SECURITY_HEADERS", "json_script", "render", "safe_url"]

TEMPLATES = Path(__file__).parent / "templates"

# No inline scripts, nothing from elsewhere, no framing (the silence form must not be
# clickjacked). Styles may be inline: uPlot sizes its elements with style attributes.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}

_JSON_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def json_script(value: Any) -> Markup:
    """``value`` as JSON safe to place inside ``<script type="application/json">``."""
    text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    return Markup(text.translate(_JSON_ESCAPES))


def safe_url(url: object) -> str:
    """A link from alert annotations only when it is http(s) or site-relative:
    a ``javascript:`` URL is escaped text for Jinja, but still runs when clicked."""
    text = str(url or "").strip()
    if not text:
        return ""
    if text.startswith("/") and not text.startswith("//"):
        return text
    return text if urlsplit(text).scheme in ("http", "https") else ""


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(FILTERS)
_env.filters["safe_url"] = safe_url
_env.filters["json_script"] = json_script


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
