"""The durable scan of every repository: one scan item per repository, queued.

`installation` created / unsuspend / new_permissions_accepted,
`installation_repositories` added, the periodic rescan
(`MUSL_CHECK_RESCAN_HOURS`) and `musl-check rescan` each put ONE scan item per
repository into the store's scan backlog (`enqueue`). There is no cap.

A feeder (`feed_once`, run by every worker) moves backlog items onto the
shared delivery queue only while that queue is nearly empty, so push and
pull-request deliveries always go first and at most `QUEUE_ROOM` scan items
are in flight at once (the secondary limits on concurrent requests,
docs/github.md 3.2). It also holds back the items of an installation whose
primary rate limit (x-ratelimit-remaining, docs/github.md 3.1) is down to the
reserve kept for delivery work, until the limit resets.

A scan item on the queue is a delivery like any other (event `SCAN_EVENT`):
leased, renewed, retried and acknowledged by bot/server/work.py, so a scan
survives restarts and resumes where it stopped. Its id names the repository
and the trigger, so the same trigger enqueued twice (a redelivered webhook)
queues nothing new; and a repository whose default-branch head already has a
check run is not checked again (bot/github/routes/installation.py). An
uninstall or suspension drops the installation's backlog, and its items
already on the queue end at once without a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from typing import Any, Final

from bot.github.client import GitHubClient, RateBook
from bot.store import Store

logger = logging.getLogger(__name__)

SCAN_EVENT: Final = "musl_check_scan"
# Scan items on the delivery queue at once (leased or waiting): new webhook
# deliveries wait behind at most this many, and two consumers scanning keep
# far below the 100-concurrent-request secondary limit (docs/github.md 3.2).
QUEUE_ROOM: Final = 4
# Backlog items looked at per feed, to skip those of paced installations.
FEED_WINDOW: Final = 200
# How often the feeder looks for room while the backlog is not empty, and
# while it is (an enqueue wakes it at once).
FEED_BUSY_S: Final = 0.05
FEED_IDLE_S: Final = 2.0
# Items written to the backlog per store call.
ENQUEUE_BATCH: Final = 500
# Repository fields a scan item keeps (what the triage can use without asking).
REPO_FIELDS: Final = ("id", "full_name", "default_branch", "archived", "disabled")
RESCAN_MARK: Final = "rescan_at"


def item_id(installation_id: int, repo_id: int, trigger: str) -> str:
    """Return the scan item's id: one per repository and trigger."""
    return f"scan:{installation_id}:{repo_id}:{trigger}"


def scan_body(installation_id: int, repository: Mapping[str, Any]) -> bytes:
    """Return a scan item's body: a payload the webhook router can dispatch."""
    repo = {k: repository[k] for k in REPO_FIELDS if k in repository}
    return json.dumps(
        {"action": "scan", "installation": {"id": installation_id}, "repository": repo},
        separators=(",", ":"),
    ).encode()


def _well_formed(item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    repo_id, full_name = item.get("id"), item.get("full_name")
    return (
        type(repo_id) is int
        and isinstance(full_name, str)
        and full_name.count("/") == 1
        and "" not in full_name.split("/")
    )


async def enqueue(
    store: Store,
    installation_id: int,
    repositories: Iterable[Any],
    trigger: str,
    *,
    wake: asyncio.Event | None = None,
) -> int:
    """Put one scan item per well-formed repository in the backlog; return how many.

    Items already in the backlog (the same repository and trigger) are not
    added again. `wake`, when given, is set so the feeder looks at once.
    """
    batch: list[tuple[str, bytes]] = []
    added = 0
    for repo in repositories:
        if not _well_formed(repo):
            continue
        key = item_id(installation_id, repo["id"], trigger)
        batch.append((key, scan_body(installation_id, repo)))
        if len(batch) >= ENQUEUE_BATCH:
            added += await store.add_scan_items(installation_id, batch)
            batch = []
    if batch:
        added += await store.add_scan_items(installation_id, batch)
    if wake is not None:
        wake.set()
    logger.info(
        "scan items queued",
        extra={"installation_id": installation_id, "trigger": trigger, "added": added},
    )
    return added


async def list_repositories(gh: GitHubClient) -> AsyncIterator[Any]:
    """Yield every repository the installation can see (all pages).

    `GET /installation/repositories` answers an object whose `repositories`
    holds one page; gidgethub follows the Link header
    (https://docs.github.com/rest/apps/installations#list-repositories-accessible-to-the-app-installation).
    """
    async for repo in gh.getiter(
        "/installation/repositories?per_page=100", iterable_key="repositories"
    ):
        yield repo


async def enqueue_listed(
    store: Store,
    gh: GitHubClient,
    installation_id: int,
    trigger: str,
    *,
    wake: asyncio.Event | None = None,
    on_page: Callable[[list[Any]], Awaitable[None]] | None = None,
) -> int:
    """List the installation's repositories and enqueue them, page by page.

    `on_page` sees each batch first (the organisation view records them).
    """
    added = 0
    page: list[Any] = []
    async for repo in list_repositories(gh):
        page.append(repo)
        if len(page) >= ENQUEUE_BATCH:
            if on_page is not None:
                await on_page(page)
            added += await enqueue(store, installation_id, page, trigger, wake=wake)
            page = []
    if on_page is not None:
        await on_page(page)
    added += await enqueue(store, installation_id, page, trigger, wake=wake)
    return added


async def list_installations(app_gh: GitHubClient) -> list[int]:
    """Return the ids of the App's installations (App JWT; all pages)."""
    ids: list[int] = []
    async for item in app_gh.getiter("/app/installations?per_page=100"):
        well_formed = isinstance(item, dict) and type(item.get("id")) is int
        if well_formed and not item.get("suspended_at"):
            ids.append(item["id"])
    return ids


async def feed_once(store: Store, rates: RateBook, *, now: float | None = None) -> int:
    """Move backlog items onto the delivery queue while it has room; return how many."""
    room = QUEUE_ROOM - await store.depth()
    if room <= 0:
        return 0
    when = time.time() if now is None else now
    moved: list[str] = []
    for key, installation_id, body in await store.scan_backlog(FEED_WINDOW):
        if rates.paused_until(installation_id, when) is not None:
            continue
        # A repeat of an item moved before (a crash between the two steps)
        # is recognised by its id and not queued again.
        await store.add_delivery(key, SCAN_EVENT, body)
        moved.append(key)
        if len(moved) >= room:
            break
    if moved:
        await store.drop_scan_items(moved)
    return len(moved)


async def feed_loop(event: asyncio.Event, store: Store, rates: RateBook) -> None:
    """Feed the queue from the backlog until cancelled (`event` wakes it early)."""
    while True:
        event.clear()
        busy = False
        try:
            await feed_once(store, rates)
            busy = await store.scan_backlog_size() > 0
        except Exception as exc:
            logger.warning(
                "could not feed scan items", extra={"error": f"{type(exc).__name__}"}
            )
        try:
            async with asyncio.timeout(FEED_BUSY_S if busy else FEED_IDLE_S):
                await event.wait()
        except TimeoutError:
            pass


async def rescan_due(store: Store, interval_s: float, now: float) -> bool:
    """Return whether a periodic rescan is due, and claim it (shared by instances).

    The mark holds when the last one started: instances sharing a store run
    one rescan per interval between them.
    """
    last = await store.get_mark(RESCAN_MARK)
    try:
        started = float(last) if last is not None else None
    except ValueError:
        started = None
    if started is None:
        # The first start: installations were scanned when installed.
        await store.set_mark(RESCAN_MARK, repr(now))
        return False
    if now - started < interval_s:
        return False
    await store.set_mark(RESCAN_MARK, repr(now))
    return True


def rescan_trigger(now: float, interval_s: float) -> str:
    """Return the trigger name of the periodic rescan covering `now`."""
    return f"rescan-{int(now // interval_s)}"


async def rescan(
    store: Store,
    app_gh: GitHubClient,
    client_for: Any,
    trigger: str,
    installations: Sequence[int] | None = None,
    *,
    wake: asyncio.Event | None = None,
) -> dict[int, int]:
    """Enqueue every repository of the installations (all when None)."""
    ids = list(installations) if installations is not None else None
    if ids is None:
        ids = await list_installations(app_gh)
    done: dict[int, int] = {}
    for installation_id in ids:
        done[installation_id] = await enqueue_listed(
            store, client_for(installation_id), installation_id, trigger, wake=wake
        )
    return done


async def rescan_command(settings: Any, installation_id: int | None) -> dict[int, int]:
    """`musl-check rescan`: enqueue every repository into the configured store.

    Running workers sharing the store pick the items up (their feeder looks
    at the backlog every few seconds); with none running, they wait there.
    """
    # Loaded here: the command line imports this module only for `rescan`.
    import aiohttp

    from bot.github.auth import AppAuth
    from bot.github.client import ClientFactory
    from bot.store import open_store

    store = open_store(settings.store_url)
    try:
        timeout = aiohttp.ClientTimeout(total=60, connect=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            clients = ClientFactory(
                session,
                AppAuth(settings.app_id, settings.private_key),
                base_url=settings.api_url,
            )
            wanted = None if installation_id is None else [installation_id]
            return await rescan(
                store,
                clients.app_client(),
                clients.installation_client,
                f"manual-{time.time_ns()}",
                wanted,
            )
    finally:
        await store.close()
