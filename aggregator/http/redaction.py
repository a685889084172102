"""Keeping secrets out of messages, logs and recordings.

:func:`redact_url` is how a URL is shown, logged or stored; the secret values a URL carries
are scrubbed from any other text too (error messages, quoted error bodies, echoed headers),
and httpx's own ``HTTP Request: GET ...`` log line goes through a filter that redacts it.
"""

from __future__ import annotations

import logging
import urllib.parse
from typing import Final

import httpx

__all__ = ["REDACTED", "redact_url"]

REDACTED: Final = "REDACTED"
# Exact names only, compared case-insensitively. Not "anything containing token": pagination
# cursors such as GCP's pageToken must stay, or every page would share one recording.
_SECRET_PARAMS: Final = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-security-token",
        "password",
        "secret",
        "code",
    }
)
_MIN_SECRET_LENGTH: Final = 4  # shorter values are scrubbed from URLs, not searched for in text


def redact_url(url: str | httpx.URL) -> str:
    """``url`` as text that is safe to show, log or store.

    Values of secret-looking query parameters (``key``, ``api_key``, ``token``, ``sig``, ...,
    case-insensitive) and any user info become ``REDACTED``; everything else is kept. A URL
    that cannot be parsed is not echoed at all.
    """
    try:
        return str(_redacted(httpx.URL(url)))
    except httpx.InvalidURL:
        return "<unparseable URL>"


def _is_secret(name: str) -> bool:
    return name.lower() in _SECRET_PARAMS


def _redacted(url: httpx.URL) -> httpx.URL:
    if url.userinfo:
        url = url.copy_with(username=REDACTED, password=None)
    pairs = url.params.multi_items()
    if any(_is_secret(name) for name, _ in pairs):
        url = url.copy_with(params=[(n, REDACTED if _is_secret(n) else v) for n, v in pairs])
    return url


def _secrets_in(url: httpx.URL) -> set[str]:
    """The secret values ``url`` carries, raw and percent-encoded, to scrub from any text."""
    values = {v for n, v in url.params.multi_items() if _is_secret(n)}
    values |= {v for v in (url.username, url.password) if v}
    values = {v for v in values if len(v) >= _MIN_SECRET_LENGTH}
    encoded = {urllib.parse.quote(v, safe="") for v in values}
    encoded |= {urllib.parse.quote_plus(v, safe="") for v in values}
    return values | encoded


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class _RedactUrlsInLogs(logging.Filter):
    """httpx logs every request's full URL at INFO; an API key must not reach the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, httpx.URL) for a in record.args):
            record.args = tuple(
                redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _redact_httpx_logs() -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactUrlsInLogs) for f in httpx_log.filters):
        httpx_log.addFilter(_RedactUrlsInLogs())
