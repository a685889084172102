"""Reading a JSON price API's answer: the body as an object, or a clear error naming the URL.

Shared by the plugins whose sources answer one JSON document per request (OCI, Lambda), so a
proxy's HTML page or a truncated body ends the feed as a :class:`ProviderResponseError` that
says what was wrong, never as a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from aggregator.errors import ProviderResponseError
from aggregator.http import redact_url

__all__ = ["bad_body", "json_object"]


def json_object(response: httpx.Response, *, provider: str, what: str) -> Mapping[str, Any]:
    """The response body as a JSON object; ``what`` names the document in errors."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_body(response, provider, what, f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise bad_body(response, provider, what, "the body is not a JSON object")
    return body


def bad_body(
    response: httpx.Response, provider: str, what: str, problem: str
) -> ProviderResponseError:
    """An error for an answer that is not the document expected (secrets redacted)."""
    url = redact_url(response.request.url)
    return ProviderResponseError(
        f"GET {url} answered with {what} gpuhours cannot use: {problem}",
        provider=provider,
        url=url,
    )
