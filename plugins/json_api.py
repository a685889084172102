"""Reading a JSON price API's answer: the body as an object, or a clear error naming the URL.

Shared by the plugins whose sources answer one JSON document per request (OCI, Lambda, RunPod,
Vultr), so a proxy's HTML page or a truncated body ends the feed as a
:class:`ProviderResponseError` that says what was wrong, never as a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import httpx

from aggregator.errors import ProviderResponseError
from aggregator.http import redact_url

__all__ = ["bad_body", "json_object", "positive_number"]


def json_object(
    response: httpx.Response, *, provider: str, what: str, setting: str | None = None
) -> Mapping[str, Any]:
    """The response body as a JSON object; ``what`` names the document in errors, ``setting``
    the base-URL variable that may point at the wrong server."""
    try:
        body = json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_body(response, provider, what, f"the body is not JSON ({exc})", setting) from None
    if not isinstance(body, dict):
        problem = f"the body is a JSON {type(body).__name__}, not an object"
        raise bad_body(response, provider, what, problem, setting)
    return body


def bad_body(
    response: httpx.Response,
    provider: str,
    what: str,
    problem: str,
    setting: str | None = None,
) -> ProviderResponseError:
    """An error for an answer that is not the document expected (secrets redacted)."""
    url = redact_url(response.request.url)
    hint = f"; {setting} may point at something else" if setting else ""
    return ProviderResponseError(
        f"{response.request.method} {url} answered with {what} gpuhours cannot use: "
        f"{problem}{hint}",
        provider=provider,
        url=url,
    )


def positive_number(value: object) -> float | None:
    """A published price or size as a float; None when missing, zero, negative or not finite.

    Booleans are not numbers here (JSON ``true`` would otherwise read as 1.0).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None
