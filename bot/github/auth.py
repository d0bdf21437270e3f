"""App authentication: the App JWT and cached installation access tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import jwt
from cachetools import TTLCache

# GitHub accepts JWTs valid for at most 10 minutes; back-date `iat` for clock
# drift as GitHub recommends (docs/github.md 2.1).
JWT_BACKDATE: Final = 60
JWT_LIFETIME: Final = 9 * 60
# Renew installation tokens this long before `expires_at` (they live one hour).
TOKEN_MARGIN: Final = 5 * 60
TOKEN_PREFIX: Final = "ghs_"  # noqa: S105 - a prefix, not a secret
MAX_CACHED_TOKENS: Final = 10_000

# POST /app/installations/{id}/access_tokens, called with the App JWT.
TokenRequester = Callable[[int, str], Awaitable[dict[str, Any]]]


class TokenError(Exception):
    """GitHub answered the token request with something that is not a token."""


@dataclass(frozen=True, slots=True)
class InstallationToken:
    """An installation access token and when it stops working (epoch seconds)."""

    token: str
    expires_at: float

    def __repr__(self) -> str:
        return f"InstallationToken(token=<redacted>, expires_at={self.expires_at})"


def parse_expires_at(text: str) -> float:
    """Return the epoch seconds of a GitHub `expires_at` timestamp."""
    return (
        datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    )


class AppAuth:
    """Mint App JWTs and keep one installation token per installation."""

    def __init__(
        self,
        app_id: str,
        private_key: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._app_id = app_id
        self._private_key = private_key
        self._clock = clock
        self._jwt: tuple[str, float] | None = None
        # Entries also carry their own expiry; the TTL only bounds memory.
        self._tokens: TTLCache[int, InstallationToken] = TTLCache(
            maxsize=MAX_CACHED_TOKENS, ttl=3600, timer=clock
        )
        self._locks: dict[int, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"AppAuth(app_id={self._app_id!r}, private_key=<redacted>)"

    def app_jwt(self) -> str:
        """Return an RS256 App JWT, reusing it while it has minutes to live."""
        now = self._clock()
        if self._jwt is not None and self._jwt[1] - now > 2 * 60:
            return self._jwt[0]
        iat = int(now) - JWT_BACKDATE
        exp = iat + JWT_LIFETIME
        payload = {"iat": iat, "exp": exp, "iss": self._app_id}
        token = jwt.encode(payload, self._private_key, algorithm="RS256")
        self._jwt = (token, float(exp))
        return token

    def cached_token(self, installation_id: int) -> str | None:
        """Return a cached token still valid for a while, if any."""
        entry = self._tokens.get(installation_id)
        if entry is None or entry.expires_at - TOKEN_MARGIN <= self._clock():
            return None
        return entry.token

    async def installation_token(
        self, installation_id: int, request: TokenRequester
    ) -> str:
        """Return a token for the installation, minting one when needed."""
        token = self.cached_token(installation_id)
        if token is not None:
            return token
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            token = self.cached_token(installation_id)
            if token is not None:
                return token
            data = await request(installation_id, self.app_jwt())
            token = data.get("token") if isinstance(data, dict) else None
            # Token length and shape vary (stateless tokens since 2026); only
            # the prefix is stable (docs/github.md 2.2).
            if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
                raise TokenError("installation token response has no ghs_ token")
            expires = data.get("expires_at")
            try:
                expires_at = parse_expires_at(str(expires))
            except ValueError:
                expires_at = self._clock() + 3600
            self._tokens[installation_id] = InstallationToken(token, expires_at)
            return token

    def forget(self, installation_id: int) -> None:
        """Drop the cached token of an installation (deleted, suspended, 401)."""
        self._tokens.pop(installation_id, None)
