"""API keys in the ``X-API-Key`` header: read keys for the GET endpoints, write keys for
``POST /events`` (a write key may also read). Keys are compared in constant time and
never logged or echoed back."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from enum import Enum
from typing import Annotated, Any

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader

from kg.serving.config import ServeSettings

API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="A key from KG_API_KEYS or KG_API_WRITE_KEYS."
)


class Access(Enum):
    READ = "read"
    WRITE = "write"


class ApiKeys:
    """The keys of one server, by what they allow."""

    def __init__(self, settings: ServeSettings) -> None:
        settings.check_keys()
        self._write = [key.encode() for key in settings.write_keys]
        self._read = [key.encode() for key in settings.read_keys] + self._write

    def allows(self, key: str | None, access: Access) -> bool:
        if not key:
            return False
        given = key.encode()
        keys = self._write if access is Access.WRITE else self._read
        # compare with every key (no early exit) so timing says nothing about which matched
        return any([hmac.compare_digest(given, known) for known in keys])

    def dependency(self, access: Access) -> Callable[[str | None], Coroutine[Any, Any, None]]:
        """A FastAPI dependency that admits a request only with a key allowing ``access``
        (async: it runs on the event loop, not through a thread hand-off)."""

        async def check(key: Annotated[str | None, Security(API_KEY_HEADER)]) -> None:
            if self.allows(key, access):
                return
            if access is Access.WRITE and self.allows(key, Access.READ):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "This API key may read but not write events.")
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Missing or invalid API key: send a key from KG_API_KEYS in the X-API-Key header.",
                headers={"WWW-Authenticate": "X-API-Key"},
            )

        return check
