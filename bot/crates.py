"""Sparse-index client: libc's published versions, checksums, yanked flags, MSRVs.

The crates.io sparse index serves one file per crate (`li/bc/libc`), JSON
lines, one object per published version in publish order. The `cksum` field is
what Cargo copies into a lockfile's `checksum`. Only the fields the fix needs are
kept. Any failure (network, status, oversize body) gives None: the fix then
falls back to the `cargo update -p libc` command with a note.
https://doc.rust-lang.org/cargo/reference/registry-index.html
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Final

import aiohttp
from cachetools import TTLCache

from bot.core.fixes import IndexEntry

logger = logging.getLogger(__name__)

# crates.io's sparse index root (Cargo's default since 1.70).
DEFAULT_INDEX_URL: Final = "https://index.crates.io"
LIBC_INDEX_PATH: Final = "li/bc/libc"
# libc's index file is about 1.3 MB today (~400 versions with full feature
# tables); anything far above that is not an index file.
MAX_INDEX_BYTES: Final = 16 * 1024 * 1024
MAX_LINE_BYTES: Final = 256 * 1024
DEFAULT_TTL: Final = 600.0
DEFAULT_TIMEOUT: Final = 10.0
USER_AGENT: Final = "musl-check (+https://github.com/apps/musl-check)"
INDEX_UNREACHABLE_NOTE: Final = (
    "The crates.io index could not be reached, so no exact Cargo.lock edit is "
    "suggested; run the command instead."
)
_SHA256_RE: Final = re.compile(r"[0-9a-f]{64}")


def parse_index(text: str) -> list[IndexEntry]:
    """Return the entries of a sparse-index file, skipping malformed lines."""
    entries: list[IndexEntry] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or len(line) > MAX_LINE_BYTES:
            continue
        entry = _parse_line(line)
        if entry is not None:
            entries.append(entry)
    return entries


def _parse_line(line: str) -> IndexEntry | None:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    vers, cksum = obj.get("vers"), obj.get("cksum")
    yanked = obj.get("yanked", False)
    rust_version = obj.get("rust_version")
    if not isinstance(vers, str) or not isinstance(cksum, str):
        return None
    if _SHA256_RE.fullmatch(cksum) is None or not isinstance(yanked, bool):
        return None
    if rust_version is not None and not isinstance(rust_version, str):
        rust_version = None
    return IndexEntry(vers=vers, cksum=cksum, yanked=yanked, rust_version=rust_version)


@dataclass(frozen=True, slots=True)
class _Cached:
    etag: str | None
    entries: tuple[IndexEntry, ...]


class IndexTooLarge(Exception):
    """The index file exceeded MAX_INDEX_BYTES."""


class CratesIndex:
    """Read crate files from a sparse index, with a TTL cache and ETag revalidation.

    Fresh results (younger than `ttl` seconds) are served without a request;
    after that the stored ETag is sent as `If-None-Match` and a 304 reuses the
    stored entries.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str = DEFAULT_INDEX_URL,
        *,
        ttl: float = DEFAULT_TTL,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_INDEX_BYTES,
    ) -> None:
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=timeout)
        self._max_bytes = max_bytes
        self._fresh: TTLCache[str, tuple[IndexEntry, ...]] = TTLCache(
            maxsize=64, ttl=ttl
        )
        self._stored: dict[str, _Cached] = {}
        self._lock = asyncio.Lock()
        self.requests = 0  # HTTP requests made (for tests and metrics)
        self.last_error = ""  # why the last read failed, for a one-line message

    async def libc(self) -> list[IndexEntry] | None:
        """Return libc's index entries, or None when the index cannot be read."""
        return await self.entries(LIBC_INDEX_PATH)

    async def entries(self, path: str) -> list[IndexEntry] | None:
        """Return the entries of the index file at `path`, or None on failure."""
        url = f"{self._base_url}/{path}"
        async with self._lock:
            fresh = self._fresh.get(url)
            if fresh is not None:
                return list(fresh)
            try:
                result = await self._fetch(url)
            except (
                aiohttp.ClientError,
                TimeoutError,
                IndexTooLarge,
                ValueError,
            ) as exc:
                logger.warning(
                    "crates index unreachable",
                    extra={"url": url, "error": type(exc).__name__},
                )
                self.last_error = _describe(exc)
                return None
            if result is None:
                return None
            self.last_error = ""
            self._fresh[url] = result
            return list(result)

    async def _fetch(self, url: str) -> tuple[IndexEntry, ...] | None:
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
        stored = self._stored.get(url)
        if stored is not None and stored.etag:
            headers["If-None-Match"] = stored.etag
        self.requests += 1
        async with self._session.get(
            url, headers=headers, timeout=self._timeout, allow_redirects=False
        ) as resp:
            if resp.status == 304 and stored is not None:
                return stored.entries
            if resp.status != 200:
                logger.warning(
                    "crates index answered an error",
                    extra={"url": url, "status": resp.status},
                )
                self.last_error = f"it answered HTTP {resp.status}"
                return None
            if (resp.content_length or 0) > self._max_bytes:
                raise IndexTooLarge
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > self._max_bytes:
                    raise IndexTooLarge
            etag = resp.headers.get("ETag")
        entries = tuple(parse_index(body.decode("utf-8", errors="replace")))
        self._stored[url] = _Cached(etag, entries)
        return entries


def _describe(exc: BaseException) -> str:
    if isinstance(exc, IndexTooLarge):
        return "its answer was too large to be an index file"
    if isinstance(exc, TimeoutError):
        return "it did not answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect ({exc.os_error.strerror or exc.os_error})"
    return str(exc) or type(exc).__name__


async def _read_libc(
    base_url: str, limit_s: float
) -> tuple[list[IndexEntry] | None, str]:
    async with aiohttp.ClientSession() as session:
        index = CratesIndex(session, base_url, timeout=limit_s)
        entries = await index.libc()
        return entries, index.last_error


def read_libc(
    base_url: str = DEFAULT_INDEX_URL, *, timeout: float = DEFAULT_TIMEOUT
) -> tuple[list[IndexEntry] | None, str]:
    """Return libc's index entries for a one-off command, or None and why not."""
    return asyncio.run(_read_libc(base_url, timeout))
