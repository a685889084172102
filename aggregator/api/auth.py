"""The admin token that guards ``POST /v1/sync/{feed}``.

* No ``GPUHOURS_ADMIN_TOKEN`` configured: the endpoint is disabled (403 for everyone), so a
  deployment never exposes an unauthenticated way to make it call out to the clouds.
* Configured: ``Authorization: Bearer <token>`` is required; a missing or wrong token gets 401
  with ``WWW-Authenticate: Bearer``. Tokens are compared in constant time and never logged or
  echoed (the settings hold it as a ``SecretStr``).
"""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

__all__ = ["AdminDenied", "bearer_scheme", "require_admin"]

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="The value of GPUHOURS_ADMIN_TOKEN; without one configured, admin endpoints "
    "are disabled.",
)


class AdminDenied(Exception):
    """Raised by :func:`require_admin`; the app turns it into 401 or 403."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def require_admin(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> None:
    """A FastAPI dependency: pass only with the configured admin token."""
    token = request.app.state.service.settings.admin_token
    if token is None or not token.get_secret_value():
        raise AdminDenied(
            403, "admin endpoints are disabled: set GPUHOURS_ADMIN_TOKEN on the server"
        )
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AdminDenied(401, "missing admin token: send 'Authorization: Bearer <token>'")
    expected = token.get_secret_value().encode()
    if not hmac.compare_digest(credentials.credentials.encode(), expected):
        raise AdminDenied(401, "the admin token is not valid")
