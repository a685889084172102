"""The tokens that guard the API: the admin token of ``POST /v1/sync/{feed}`` and the
optional read token of the read routes.

* No ``GPUHOURS_ADMIN_TOKEN`` configured: the admin endpoint is disabled (403 for everyone),
  so a deployment never exposes an unauthenticated way to make it call out to the clouds.
* ``GPUHOURS_API_READ_TOKEN`` configured: the read routes (``/v1/offers``, ``/v1/plan``,
  ``/v1/gpus``, ``/v1/providers``, ``/v1/export``) need it (or the admin token); without one
  they are open. Health, readiness and metrics stay open for probes and scrapers.
* A guarded route needs ``Authorization: Bearer <token>``; a missing or wrong token gets 401
  with ``WWW-Authenticate: Bearer``. Tokens are compared in constant time and never logged or
  echoed (the settings hold them as ``SecretStr``).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

__all__ = ["AccessDenied", "bearer_scheme", "read_scheme", "require_admin", "require_reader"]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="The value of GPUHOURS_ADMIN_TOKEN; without one configured, admin endpoints "
    "are disabled.",
)
read_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ReadToken",
    description="The value of GPUHOURS_API_READ_TOKEN (or the admin token), when the server "
    "sets one; without it the read routes are open.",
)


class AccessDenied(Exception):
    """Raised by :func:`require_admin` and :func:`require_reader`; the app turns it into
    401 or 403."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _secret(token: SecretStr | None) -> bytes | None:
    return token.get_secret_value().encode() if token and token.get_secret_value() else None


def _matches(credentials: HTTPAuthorizationCredentials, *tokens: bytes | None) -> bool:
    given = credentials.credentials.encode()
    # Every configured token is compared, so the time taken says nothing about which matched.
    results = [hmac.compare_digest(given, token) for token in tokens if token is not None]
    return any(results)


async def require_admin(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> None:
    """A FastAPI dependency: pass only with the configured admin token."""
    token = _secret(request.app.state.service.settings.admin_token)
    if token is None:
        raise AccessDenied(
            403, "admin endpoints are disabled: set GPUHOURS_ADMIN_TOKEN on the server"
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AccessDenied(401, "missing admin token: send 'Authorization: Bearer <token>'")
    if not _matches(credentials, token):
        raise AccessDenied(401, "the admin token is not valid")


async def require_reader(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(read_scheme),  # noqa: B008
) -> None:
    """A FastAPI dependency: pass when no read token is configured, or with it (or the
    admin token)."""
    settings = request.app.state.service.settings
    token = _secret(settings.api_read_token)
    if token is None:
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AccessDenied(
            401, "this server needs a read token: send 'Authorization: Bearer <token>'"
        )
    if not _matches(credentials, token, _secret(settings.admin_token)):
        raise AccessDenied(401, "the read token is not valid")
