"""Open the store a settings URL names (the backends import the protocol)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from bot.store import Store, StoreError
from bot.store.redis import RedisStore
from bot.store.sqlite import SqliteStore


def open_store(url: str) -> Store:
    """Open the store named by `url` (`sqlite:///path` or `redis://host:port/db`)."""
    if url.startswith("sqlite:///"):
        return SqliteStore.open(url.removeprefix("sqlite:///"))
    if url.startswith(("redis://", "rediss://")):
        # `?prefix=name:` keeps several deployments (or tests) apart on one
        # Redis; redis-py would take the query for connection options.
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        prefix = query.pop("prefix", ["musl-check:"])[-1]
        rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        return RedisStore.from_url(rest, prefix=prefix)
    raise StoreError("store URL must start with sqlite:/// or redis://")
