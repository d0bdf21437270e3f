"""The GitHub layer's dependencies, built once at start-up and passed in.

Every webhook handler receives the one `Context` as a keyword argument:
`router.dispatch(event, gh, ctx=ctx)`, since gidgethub's `Router.dispatch`
forwards its keyword arguments to every callback
(https://gidgethub.readthedocs.io/en/latest/routing.html). A handler's
signature thus shows everything it uses; nothing is looked up by application.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import ClientSession
from cachetools import LRUCache

from bot.core import analysis
from bot.core.config import Config
from bot.core.findings import Report
from bot.core.fixes import IndexEntry
from bot.crates import CratesIndex
from bot.github import payload, reviews
from bot.github.auth import AppAuth
from bot.github.client import ClientFactory, GitHubClient, Sleep
from bot.github.org_config import OrgConfigs
from bot.github.snapshot import BlobCache, Snapshot
from bot.settings import Settings
from bot.store import Store

RESULT_CACHE_SIZE: Final = 4096
BASE_CONFIG_CACHE_SIZE: Final = 4096
# What was found per commit, bounded by the bytes of the files it keeps.
ANALYSED_CACHE_BYTES: Final = 64 * 1024 * 1024

Analyse = Callable[
    [Mapping[str, bytes], Config | None, Sequence[IndexEntry] | None], Report
]


@dataclass(frozen=True, slots=True)
class Options:
    """Injectable pieces (tests, benchmarks): the analysis and the sleeper."""

    analyse: Analyse = analysis.analyse
    sleep: Sleep = asyncio.sleep


@dataclass(frozen=True, slots=True)
class Analysed:
    """What checking one commit found, kept so later triggers cost no request.

    `report` is None when the commit was quiet (no sign of Rust: no run).
    """

    report: Report | None
    config: Config
    snapshot: Snapshot
    index_unreachable: bool

    def size(self) -> int:
        """Return the bytes this entry holds (files dominate), at least 1."""
        return 1 + sum(len(data) for data in self.snapshot.files.values())


@dataclass(slots=True)
class Context:
    """The GitHub layer's per-process state: settings, store, clients, caches."""

    settings: Settings
    store: Store
    clients: ClientFactory
    options: Options = field(default_factory=Options)
    index: CratesIndex | None = None  # None: no index (fix edits never exact)
    org_configs: OrgConfigs = field(default_factory=OrgConfigs)
    blobs: BlobCache = field(default_factory=BlobCache)
    results: LRUCache[Any, Report] = field(
        default_factory=lambda: LRUCache(maxsize=RESULT_CACHE_SIZE)
    )
    # (repository id, sha) -> what its check found: GitHub announces one commit
    # through check_suite, pull_request and push; only the first costs requests.
    analysed: LRUCache[tuple[int, str], Analysed] = field(
        default_factory=lambda: LRUCache(
            maxsize=ANALYSED_CACHE_BYTES, getsizeof=Analysed.size
        )
    )
    # (repository id, base commit) -> blob sha of its config, "" for none.
    base_configs: LRUCache[tuple[int, str], str] = field(
        default_factory=lambda: LRUCache(maxsize=BASE_CONFIG_CACHE_SIZE)
    )
    # One lock per (repository id, sha): a commit is checked once at a time.
    locks: weakref.WeakValueDictionary[tuple[int, str], asyncio.Lock] = field(
        default_factory=weakref.WeakValueDictionary
    )
    # Installation id -> how many times it was deleted or suspended. A scan
    # remembers the count it started with and stops when it changes.
    stops: dict[int, int] = field(default_factory=dict)
    # Set when scan items were queued or taken: the scan feeder looks at once.
    scan_wake: asyncio.Event = field(default_factory=asyncio.Event)

    app_identity: reviews.AppIdentity | None = None  # fetched once, see identity()

    def client(self, installation_id: int) -> GitHubClient:
        """Return a client for the installation."""
        return self.clients.installation_client(installation_id)

    async def identity(self) -> reviews.AppIdentity:
        """Return this App's id and bot login (`GET /app`, once per process)."""
        if self.app_identity is None:
            data = await self.clients.app_client().getitem("/app")
            slug = payload.name(data, "slug")
            app_id = data.get("id") if isinstance(data, dict) else None
            self.app_identity = reviews.AppIdentity(
                app_id if type(app_id) is int else None, f"{slug}[bot]"
            )
        return self.app_identity


def build_context(
    settings: Settings,
    store: Store,
    session: ClientSession,
    options: Options | None = None,
) -> Context:
    """Build the process's context from its settings, store and HTTP session."""
    options = options or Options()
    auth = AppAuth(settings.app_id, settings.private_key)
    clients = ClientFactory(
        session, auth, base_url=settings.api_url, sleep=options.sleep
    )
    index = CratesIndex(session, settings.crates_index_url)
    return Context(settings, store, clients, options, index)
