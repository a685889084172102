"""Pages from Jinja2 templates, every value escaped, amounts written as the CLI writes them.

Autoescaping is on for every template (not only ``.html`` names), so no text from the store,
a plugin or the query string reaches a page unescaped; data for the chart goes through
Jinja2's ``tojson``, which escapes ``<``, ``>``, ``&`` and quotes for a ``<script>`` block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from aggregator.cli.format import age, duration, money, option_text

__all__ = ["STATIC_DIR", "STATIC_URL", "STORE_DOWN", "page", "query_string"]

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
STATIC_URL = "/static"
"""Where the pages' stylesheet, script and the vendored chart library are served."""
STORE_DOWN = "the price store is not available"
"""What a page says when the store cannot be read (the API's 503 says the same)."""

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,  # a misspelt name in a template fails its test
)
_env.filters.update(money=money, age=age, duration=duration, option_text=option_text)
_env.globals["static"] = lambda path: f"{STATIC_URL}/{path}"
_templates = Jinja2Templates(env=_env)


def query_string(params: dict[str, Any]) -> str:
    """``?a=1&b=x&b=y`` of ``params`` (lists repeat, ``None`` and ``""`` are left out)."""
    pairs: list[tuple[str, str]] = []
    for name, value in params.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, bool):
                pairs.append((name, "true" if item else "false"))
            elif item is not None and item != "":
                pairs.append((name, str(item)))
    return "?" + urlencode(pairs) if pairs else ""


_env.globals["query_string"] = query_string


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` (and ``request``, for the navigation)."""
    return _templates.TemplateResponse(request, template, context, status_code=status_code)
