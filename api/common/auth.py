"""API-key check for every /v1 route (health and metrics stay open)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Security
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from api.common.errors import Unauthorized
from api.common.headers import API_KEY_HEADER

_scheme = APIKeyHeader(name=API_KEY_HEADER, auto_error=False)


def api_key_guard(expected: SecretStr) -> Callable[[str | None], Awaitable[None]]:
    """A dependency that refuses a request whose key is absent or wrong (401).

    `async` so that FastAPI runs it on the event loop: a plain `def` dependency is
    sent to a worker thread on every request, which costs more than the check.
    """
    secret = expected.get_secret_value().encode()

    async def check(provided: str | None = Security(_scheme)) -> None:
        if not provided:
            raise Unauthorized(f"missing {API_KEY_HEADER} header")
        if not hmac.compare_digest(provided.encode(), secret):
            raise Unauthorized(f"invalid {API_KEY_HEADER}")

    return check
