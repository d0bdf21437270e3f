"""The GitHub REST client: version pinning, auth, ETag cache, rate-limit retries."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Final

import aiohttp
import gidgethub
import gidgethub.aiohttp
from cachetools import LRUCache
from gidgethub.abc import JSON_CONTENT_TYPE
from multidict import CIMultiDict
from uritemplate import variable

from bot.github.auth import AppAuth
from bot.queue import current_attempt

logger = logging.getLogger(__name__)

API_VERSION: Final = "2022-11-28"
USER_AGENT: Final = "musl-check"
RAW: Final = "application/vnd.github.raw+json"
ETAG_CACHE_SIZE: Final = 512
MAX_ATTEMPTS: Final = 3
# Longest wait honoured for a rate limit; beyond it the work fails (and shows
# a neutral run) instead of sleeping in a background task for an hour.
MAX_WAIT: Final = 60.0
SECONDARY_WAIT: Final = 60.0
# Git objects addressed by sha never change: no point keeping their ETags.
_IMMUTABLE: Final = ("/git/blobs/", "/git/trees/")

READ_CHUNK: Final = 64 * 1024
# The byte cap of the raw read in progress, per task (blob reads run
# concurrently on one client).
_RAW_LIMIT: ContextVar[int | None] = ContextVar("musl_check_raw_limit", default=None)

_HINTS: Final = {
    401: "GitHub refused the App's credentials: check GITHUB_APP_ID and the"
    " private key, or whether the installation still exists",
    403: "the App lacks a permission (see app.yaml), or a rate limit applies",
    404: "not found, or not visible to this installation",
    409: "conflict: the repository may be empty or the ref moved",
    422: "GitHub refused the request body",
}

AuthSource = Callable[[], Awaitable[str]]


class BlobTooLarge(Exception):
    """A raw body was longer than the cap its caller set."""

    def __init__(self, limit: int) -> None:
        """Name the cap that was passed."""
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


Sleep = Callable[[float], Awaitable[None]]


class EtagCache(LRUCache[str, Any]):
    """gidgethub's conditional-request cache, skipping immutable git objects."""

    def __setitem__(self, key: str, value: Any) -> None:
        if any(part in key for part in _IMMUTABLE):
            return
        super().__setitem__(key, value)


def retry_delay(
    exc: gidgethub.HTTPException, attempt: int, *, now: float
) -> float | None:
    """Return how long to wait before retrying a failed request, or None."""
    if attempt >= MAX_ATTEMPTS:
        return None
    status = exc.status_code
    headers = exc.headers or {}
    if status >= 500:
        return float(2 ** (attempt - 1))
    if status not in (403, 429):
        return None
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            return SECONDARY_WAIT
    if headers.get("x-ratelimit-remaining") == "0":
        try:
            return max(0.0, float(headers.get("x-ratelimit-reset", "")) - now)
        except ValueError:
            return SECONDARY_WAIT
    if status == 429:
        return SECONDARY_WAIT * attempt
    # A 403 without rate-limit signs is a permission problem: do not retry.
    return None


# URI template operators that copy reserved characters unencoded (RFC 6570
# 3.2.3, 3.2.4): every other expansion percent-encodes `/`, `#`, `?` and `%` in
# a value, so a branch named `main#x` names that branch, not `main`.
_UNSAFE_EXPANSIONS: Final = ("{+", "{#")
# Dot segments are not encoded by the template and are removed by the HTTP
# client (RFC 3986 5.2.4): `..` as an owner or branch would address another path.
_DOT_SEGMENTS: Final = frozenset({".", ".."})


def check_url(url: str, url_vars: Mapping[str, object] | None) -> None:
    """Raise ValueError unless every variable of `url` fills one whole segment."""
    if any(op in url for op in _UNSAFE_EXPANSIONS):
        raise ValueError(f"URL template {url!r} expands a variable unencoded")
    for key, value in (url_vars or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, str) and v in _DOT_SEGMENTS for v in values):
            raise ValueError(f"URL parameter {key!r} is a dot segment")


def is_transient(exc: BaseException) -> bool:
    """Return whether a failed GitHub call may well succeed if tried later.

    5xx answers, rate limits (primary and secondary: 429, or 403 with
    rate-limit headers, docs/github.md 3.2), timeouts and connection errors
    are; 4xx answers such as 404 and 422 are the request's own fault.
    """
    if isinstance(exc, gidgethub.RateLimitExceeded):
        return True
    if isinstance(exc, gidgethub.HTTPException):
        if exc.status_code >= 500 or exc.status_code == 429:
            return True
        headers = exc.headers or {}
        return exc.status_code == 403 and (
            "retry-after" in headers or headers.get("x-ratelimit-remaining") == "0"
        )
    return isinstance(exc, aiohttp.ClientError | TimeoutError)


# Share of an installation's hourly request limit kept for push and
# pull-request work: the repository scan pauses below it until the limit
# resets (docs/github.md 3.1).
RATE_RESERVE_SHARE: Final = 0.2


class RateBook:
    """The latest primary rate-limit headers seen per installation."""

    def __init__(self) -> None:
        """Start knowing nothing (an unknown installation is not held back)."""
        self._seen: dict[int, tuple[int, int, float]] = {}

    def note(self, installation_id: int, headers: Mapping[str, str]) -> None:
        """Record x-ratelimit-limit/remaining/reset from a response."""
        try:
            limit = int(headers["x-ratelimit-limit"])
            remaining = int(headers["x-ratelimit-remaining"])
            reset = float(headers["x-ratelimit-reset"])
        except (KeyError, ValueError):
            return
        self._seen[installation_id] = (limit, remaining, reset)

    def paused_until(self, installation_id: int, now: float) -> float | None:
        """Return until when the installation's scan waits (None: it may go on)."""
        seen = self._seen.get(installation_id)
        if seen is None:
            return None
        limit, remaining, reset = seen
        if reset <= now or remaining > limit * RATE_RESERVE_SHARE:
            return None
        return reset


class GitHubClient(gidgethub.aiohttp.GitHubAPI):
    """A gidgethub client for one installation (or the App itself)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        auth: AuthSource | None = None,
        cache: EtagCache | None = None,
        sleep: Sleep = asyncio.sleep,
        on_unauthorized: Callable[[], None] | None = None,
        on_headers: Callable[[Mapping[str, str]], None] | None = None,
    ) -> None:
        super().__init__(session, USER_AGENT, cache=cache, base_url=base_url)
        self._auth = auth
        self._sleep = sleep
        self._on_unauthorized = on_unauthorized
        self._on_headers = on_headers  # sees each answer's headers (rate limits)
        self.request_count = 0

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        sent = dict(headers)
        # gidgethub sends no version header; pin it on every call, getstatus too.
        sent["x-github-api-version"] = API_VERSION
        if self._auth is not None and "authorization" not in sent:
            sent["authorization"] = await self._auth()
        self.request_count += 1
        limit = _RAW_LIMIT.get()
        if limit is not None and sent.get("accept") == RAW:
            status, got, data = await self._bounded(method, url, sent, body, limit)
        else:
            status, got, data = await super()._request(method, url, sent, body)
        if self._on_headers is not None:
            self._on_headers(got)
        if status >= 400:
            # A 404 is an answer callers expect and handle (no org config, no
            # such pull request); a transient one is retried (the work logs
            # one warning if it still fails). Any other error gets one
            # warning, with GitHub's request id and a hint.
            transient = status >= 500 or status == 429
            quiet = status == 404 or transient
            logger.log(
                logging.DEBUG if quiet else logging.WARNING,
                "github request failed",
                extra={
                    "method": method,
                    "url": url,
                    "status": status,
                    "github_request_id": got.get("x-github-request-id", ""),
                    "hint": _HINTS.get(status, "see the response for details"),
                },
            )
            if status == 401:
                current_attempt().github_unauthorized = True
                if self._on_unauthorized is not None:
                    self._on_unauthorized()
        if status == 200 and sent.get("accept") == RAW:
            # Raw bodies may be any bytes; latin-1 maps them 1:1 to a str that
            # gidgethub can hand back and `get_raw` turns into bytes again.
            patched = CIMultiDict(got)
            patched["content-type"] = "application/octet-stream; charset=latin-1"
            return status, patched, data
        return status, got, data

    async def _bounded(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        limit: int,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Send the request and read at most `limit` bytes of a 200 body.

        The size a tree lists is only a claim: the body itself is checked, by
        its Content-Length and then while it streams in.
        """
        async with self._session.request(
            method, url, headers=headers, data=body
        ) as response:
            if response.status != 200:
                return response.status, response.headers, await response.read()
            length = response.content_length
            if length is not None and length > limit:
                raise BlobTooLarge(limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge(limit)
                chunks.append(chunk)
            return response.status, response.headers, b"".join(chunks)

    async def _make_request(
        self,
        method: str,
        url: str,
        url_vars: Mapping[str, variable.VariableValue] | None,
        data: Any,
        accept: str,
        jwt: str | None = None,
        oauth_token: str | None = None,
        content_type: str = JSON_CONTENT_TYPE,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[bytes, str | None, int]:
        check_url(url, url_vars)
        return await super()._make_request(
            method,
            url,
            url_vars,
            data,
            accept,
            jwt=jwt,
            oauth_token=oauth_token,
            content_type=content_type,
            extra_headers=extra_headers,
        )

    async def sleep(self, seconds: float) -> None:
        """Sleep through the injected sleeper (tests pass one that records)."""
        await self._sleep(seconds)

    async def handle_rate_limit_error(
        self,
        *,
        method: str,
        url: str,
        exception: gidgethub.HTTPException,
        attempt: int,
    ) -> bool:
        """Wait and retry on rate limits and 5xx, a bounded number of times."""
        delay = retry_delay(exception, attempt, now=time.time())
        if delay is None or delay > MAX_WAIT:
            return False
        logger.info(
            "github retry",
            extra={"method": method, "url": url, "delay": delay, "attempt": attempt},
        )
        await self.sleep(delay)
        return True

    async def get_raw(
        self, url: str, url_vars: Mapping[str, str], *, max_bytes: int | None = None
    ) -> bytes:
        """Return the raw bytes of a blob or file.

        With `max_bytes`, a body longer than that raises BlobTooLarge once that
        many bytes were read, whatever size the tree listing claimed.
        """
        token = _RAW_LIMIT.set(max_bytes)
        try:
            text = await self.getitem(url, url_vars, accept=RAW)
        finally:
            _RAW_LIMIT.reset(token)
        if text is None:
            return b""
        if isinstance(text, str):
            return text.encode("latin-1")
        raise TypeError("raw request returned JSON")


class ClientFactory:
    """Build per-installation clients sharing one token cache and ETag caches."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        auth: AppAuth,
        *,
        base_url: str,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._session = session
        self.auth = auth
        self._base_url = base_url
        self._sleep = sleep
        self._caches: LRUCache[int, EtagCache] = LRUCache(maxsize=1024)
        # Each installation's latest rate-limit headers: the scan's pacing.
        self.rates = RateBook()

    def app_client(self) -> GitHubClient:
        """Return a client that authenticates as the App (JWT)."""

        async def bearer() -> str:
            return f"bearer {self.auth.app_jwt()}"

        return GitHubClient(
            self._session, base_url=self._base_url, auth=bearer, sleep=self._sleep
        )

    async def _request_token(self, installation_id: int, app_jwt: str) -> Any:
        return await self.app_client().post(
            "/app/installations/{installation_id}/access_tokens",
            {"installation_id": str(installation_id)},
            data=b"",
            jwt=app_jwt,
        )

    def installation_client(self, installation_id: int) -> GitHubClient:
        """Return a client for the installation; its token is fetched lazily."""

        async def token() -> str:
            value = await self.auth.installation_token(
                installation_id, self._request_token
            )
            return f"token {value}"

        cache = self._caches.get(installation_id)
        if cache is None:
            cache = EtagCache(maxsize=ETAG_CACHE_SIZE)
            self._caches[installation_id] = cache
        return GitHubClient(
            self._session,
            base_url=self._base_url,
            auth=token,
            cache=cache,
            sleep=self._sleep,
            on_unauthorized=lambda: self.auth.forget(installation_id),
            on_headers=lambda headers: self.rates.note(installation_id, headers),
        )

    def forget(self, installation_id: int) -> None:
        """Drop the token and ETag cache of an installation."""
        self.auth.forget(installation_id)
        self._caches.pop(installation_id, None)
