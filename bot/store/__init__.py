"""Durable storage for deliveries, check-run ids and results (sqlite or redis)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

# Finished deliveries are kept this long (GitHub redelivers for up to 3 days,
# 7 on GHES) so a redelivery is still recognised as a duplicate.
RETENTION_S: Final = 8 * 24 * 3600.0
# Check-run ids (one per repository and commit) and what was posted on pull
# requests are kept this long, then forgotten: Redis by key TTLs, SQLite by an
# hourly prune.
CHECK_RUN_TTL_S: Final = 30 * 24 * 3600
PULL_FEEDBACK_TTL_S: Final = 90 * 24 * 3600
# Body digests (replay detection) are looked at only within a short window
# (bot/server/ingress.py REPLAY_WINDOW_S); SQLite's hourly prune drops older rows.
PAYLOAD_TTL_S: Final = 3600.0


def owner_is_dead(owner: str, host: str) -> bool:
    """Return whether `owner` ("host:pid:..." as the server names it) is gone.

    Only a process of this machine (`host`) can be known dead: one whose
    process id no longer runs. A store frees such a process's leases at once
    instead of waiting out their visibility timeout, so a restart resumes
    the work of the instance it replaces in seconds.
    """
    owner_host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if owner_host != host or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, under another user
        return False
    return False


class StoreError(Exception):
    """Raised when a store URL cannot be opened."""


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A recorded webhook delivery waiting to be processed."""

    delivery_id: str
    event: str
    body: bytes
    received_at: float  # Unix time
    attempts: int = 0
    # Taken from a consumer whose lease ran out (it died or stalled), not
    # fresh, released for a retry, or freed by a restart.
    taken_over: bool = False


@dataclass(frozen=True, slots=True)
class StoredResult:
    """The latest verdict for one repository (the org view)."""

    installation_id: int
    repo: str
    head_sha: str
    verdict: str
    title: str
    updated_at: float  # Unix time


@dataclass(frozen=True, slots=True)
class RepositoryResult:
    """One repository's row of the organisation view: its default branch's check.

    `libc` lists the libc versions locked, `targets` the musl targets built;
    `fix_pull` is the fix pull request musl-check opened, if any.
    """

    installation_id: int
    repo_id: int
    repo: str  # owner/name
    head_sha: str
    verdict: str
    libc: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    check_run_url: str = ""
    fix_pull: int | None = None
    checked_at: float = 0.0  # Unix time


@dataclass(frozen=True, slots=True)
class PullFeedback:
    """What was last posted on a pull request, so an unchanged update posts nothing.

    `verdict` is the report's verdict when feedback was posted, `digest` a hash
    of everything the feedback depends on except the head sha, `lock_blob` the
    blob sha of the Cargo.lock the suggestion was made for ("" if none).
    """

    verdict: str
    digest: str
    lock_blob: str = ""


class Store(Protocol):
    """What the server and the GitHub layer need from durable storage.

    Deliveries form a queue: `add_delivery` records one (before the 202),
    `take` leases the oldest available one to a consumer for a short
    visibility timeout that `renew` extends while the work runs, and
    `finish` (acknowledge) or `release` (back on the queue, after a delay)
    ends the lease. A consumer that dies stops renewing, so its delivery is
    available again once the timeout has run out.
    """

    async def add_delivery(self, delivery_id: str, event: str, body: bytes) -> bool:
        """Record a delivery; return False if its id was seen before."""

    async def take(self, owner: str, visibility_s: float) -> StoredDelivery | None:
        """Lease the oldest available delivery to `owner`; None if there is none.

        Available: unfinished, not leased (or its lease ran out), and past the
        delay of its last `release`. Every take counts as an attempt. Every
        consumer of one store uses the same `visibility_s` (Redis measures a
        lease by its idle time against the taker's timeout).
        """

    async def renew(self, delivery_id: str, owner: str, visibility_s: float) -> bool:
        """Extend `owner`'s lease; False if it is no longer `owner`'s."""

    async def release(self, delivery_id: str, owner: str, delay_s: float) -> None:
        """Give `owner`'s lease back; the delivery is available after `delay_s`."""

    async def finish(self, delivery_id: str, error: str | None = None) -> None:
        """Mark a delivery done (with the error if processing failed)."""

    async def pending(self, limit: int = 100) -> list[StoredDelivery]:
        """Return unfinished deliveries (leased or not), oldest first."""

    async def depth(self) -> int:
        """Return how many deliveries are unfinished (the backlog)."""

    async def seen(self, delivery_id: str) -> bool:
        """Return whether a delivery with this id was ever recorded."""

    async def get_mark(self, name: str) -> str | None:
        """Return a small named value (how far a periodic job got), if set."""

    async def set_mark(self, name: str, value: str) -> None:
        """Record a small named value."""

    async def claim_payload(
        self, digest: str, delivery_id: str, window_s: float
    ) -> str:
        """Tie the body `digest` to `delivery_id`; return the id it belongs to.

        The first delivery to carry a body within `window_s` seconds owns it;
        another id sharing the digest in that window is a replay of the same
        signed body under a new delivery id. Returns `delivery_id` itself when
        it owns the digest (first sight, GitHub's own redelivery of the same
        id, or the earlier owner's window has passed).
        """

    async def get_check_run(self, repo_id: int, head_sha: str) -> int | None:
        """Return the check run id recorded for (repo, head_sha), if any."""

    async def set_check_run(
        self, repo_id: int, head_sha: str, check_run_id: int
    ) -> None:
        """Record the check run id for (repo, head_sha)."""

    async def save_result(
        self, installation_id: int, repo: str, head_sha: str, verdict: str, title: str
    ) -> None:
        """Record the latest verdict for a repository."""

    async def results(self, limit: int = 200) -> list[StoredResult]:
        """Return the latest result per repository, newest first."""

    async def set_installation(
        self, installation_id: int, account: str, active: bool
    ) -> None:
        """Record an installation; results of inactive ones are hidden."""

    async def get_pull_feedback(self, repo_id: int, number: int) -> PullFeedback | None:
        """Return what was last posted on pull request `number`, if anything."""

    async def set_pull_feedback(
        self, repo_id: int, number: int, feedback: PullFeedback
    ) -> None:
        """Record what was just posted on pull request `number`."""

    async def add_scan_items(
        self, installation_id: int, items: Sequence[tuple[str, bytes]]
    ) -> int:
        """Add (item id, body) to the scan backlog; return how many were new.

        The backlog holds the repository scan items that wait to be moved onto
        the delivery queue (bot/github/scan.py feeds them in when the queue
        has room): an id already in the backlog is not added twice.
        """

    async def scan_backlog(self, limit: int) -> list[tuple[str, int, bytes]]:
        """Return up to `limit` items (id, installation id, body), oldest first."""

    async def drop_scan_items(self, item_ids: Sequence[str]) -> None:
        """Remove items from the scan backlog (moved onto the queue, or void)."""

    async def drop_installation_scan(self, installation_id: int) -> int:
        """Remove every backlog item of an installation; return how many."""

    async def scan_backlog_size(self) -> int:
        """Return how many scan items wait in the backlog."""

    async def installation_active(self, installation_id: int) -> bool | None:
        """Return whether an installation is active; None if never recorded."""

    async def save_repository_result(self, result: RepositoryResult) -> None:
        """Record a repository's latest default-branch result (keeps its fix PR)."""

    async def set_fix_pull(
        self, installation_id: int, repo_id: int, number: int | None
    ) -> None:
        """Record the fix pull request opened for a repository (None: none)."""

    async def repository_results(self, installation_id: int) -> list[RepositoryResult]:
        """Return every repository result of the installation, by name."""

    async def add_repositories(
        self, installation_id: int, repos: Sequence[tuple[int, str]]
    ) -> None:
        """Record repositories (id, owner/name) the installation can see."""

    async def remove_repositories(
        self, installation_id: int, repo_ids: Sequence[int]
    ) -> None:
        """Forget repositories the installation lost, with their results."""

    async def known_repositories(self, installation_id: int) -> dict[int, str]:
        """Return the repositories (id -> owner/name) the installation sees.

        Those recorded by `add_repositories` and those with a result.
        """

    async def installation_of(self, account: str) -> int | None:
        """Return the active installation of an account (case-insensitive)."""

    async def close(self) -> None:
        """Release connections."""


def open_store(url: str) -> Store:
    """Open the store named by `url` (`sqlite:///path` or `redis://host:port/db`)."""
    # The backends are imported on demand: redis is an optional extra
    # (`musl-check[redis]`) that a SQLite deployment does not install.
    if url.startswith("sqlite:///"):
        from bot.store.sqlite import SqliteStore

        return SqliteStore.open(url.removeprefix("sqlite:///"))
    if url.startswith(("redis://", "rediss://")):
        from bot.store.redis import RedisStore

        # `?prefix=name:` keeps several deployments (or tests) apart on one
        # Redis; redis-py would take the query for connection options.
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        prefix = query.pop("prefix", ["musl-check:"])[-1]
        rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        return RedisStore.from_url(rest, prefix=prefix)
    raise StoreError("store URL must start with sqlite:/// or redis://")
