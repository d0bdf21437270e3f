"""`installation` and `installation_repositories`: bookkeeping and scans.

A new, unsuspended or re-permitted installation, and repositories added to
one, get one scan item per repository on the shared queue (bot/github/scan.py):
no cap, durable across restarts, paced and behind delivery work. Each item
(`on_scan_item`) checks the head of the repository's default branch through
the same `run_check` as every other trigger, unless that commit already has
a run. A deleted or suspended installation's tokens are forgotten and its
scan stops: its backlog is dropped, and its items already queued end at once.

Each repository is triaged first by one recursive tree read at its default
branch (`_triage`): one without any sign of Rust, and an empty one, cost that
one request; only a Rust project costs its head commit, its uncached blobs and
one check-run request.

`scan_repositories` checks a list of repositories directly, within bounds
(docs/github.md 3.2 and 7): at most `SCAN_LIMIT`, `SCAN_CONCURRENCY` at a time,
within a share of the work time, stopping when the installation goes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import gidgethub
from gidgethub.routing import Router
from gidgethub.sansio import Event

from bot.github import payload, scan
from bot.github.client import GitHubClient
from bot.github.context import Context
from bot.github.runner import CheckTarget, run_check
from bot.github.snapshot import EmptyRepository, listing_shows_rust, read_tree
from bot.server.state import WORK_TIMEOUT_S

logger = logging.getLogger(__name__)

router = Router()

ACTIVE: Final = {
    "created": True,
    "unsuspend": True,
    "new_permissions_accepted": True,
    "deleted": False,
    "suspend": False,
}

# At most this many repositories are checked per event; the rest wait for
# their next push (an org of 2,000 repositories is not 2,000 check runs).
SCAN_LIMIT: Final = 200
# Repositories checked at once per scan: each check is a handful of serial
# requests, so two keep far below the 100-concurrent secondary limit.
SCAN_CONCURRENCY: Final = 2
# Share of the server's per-delivery work time a scan may use before it stops
# starting new checks, so the delivery ends cleanly instead of being cut off.
SCAN_TIME_SHARE: Final = 0.8
SHA_RE: Final = re.compile(r"^[0-9a-f]{40}$")
# Answers that mean "this repository cannot be read", not "the scan is broken".
UNREADABLE_STATUS: Final = frozenset({403, 404, 451})


class Outcome(StrEnum):
    """What a scan did with one repository."""

    CHECKED = "checked"
    NOT_RUST = "not_rust"  # the tree shows no Rust: no run, one request
    NO_REPORT = "no_report"  # run_check published a failure or found no files
    ALREADY_CHECKED = "already_checked"
    ARCHIVED = "archived"
    EMPTY = "empty"
    NO_BRANCH = "no_branch"
    UNREADABLE = "unreadable"
    FAILED = "failed"
    NOT_REACHED = "not_reached"  # the scan stopped first


class Stop(StrEnum):
    """Why a scan stopped before its last repository."""

    INSTALLATION_GONE = "installation_gone"
    TIME_BUDGET = "time_budget"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True, slots=True)
class ScanRepository:
    """One repository named by an installation payload."""

    id: int
    owner: str
    name: str
    # From a repository listing; None when the payload does not say.
    default_branch: str | None = None
    archived: bool | None = None

    @property
    def full_name(self) -> str:
        """Return `owner/name`."""
        return f"{self.owner}/{self.name}"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The repositories a scan handled, by outcome, and why it stopped if it did."""

    outcomes: dict[Outcome, int] = field(default_factory=dict)
    over_limit: int = 0
    stopped: Stop | None = None


def stop_installation(ctx: Context, installation_id: int) -> None:
    """Stop the installation's running scans and forget its tokens."""
    stops = ctx.stops
    stops[installation_id] = stops.get(installation_id, 0) + 1
    ctx.clients.forget(installation_id)


async def drop_scan(ctx: Context, installation_id: int) -> None:
    """Drop the installation's scan items that wait in the backlog."""
    dropped = await ctx.store.drop_installation_scan(installation_id)
    logger.info(
        "installation scan dropped",
        extra={"installation_id": installation_id, "dropped": dropped},
    )


def parse_repositories(items: Any) -> list[ScanRepository]:
    """Return the well-formed, distinct repositories of a payload list."""
    if not isinstance(items, list):
        return []
    out: list[ScanRepository] = []
    seen: set[int] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        repo_id, full_name = item.get("id"), item.get("full_name")
        if not isinstance(repo_id, int) or isinstance(repo_id, bool):
            continue
        if not isinstance(full_name, str) or repo_id in seen:
            continue
        owner, _, name = full_name.partition("/")
        if not owner or not name or "/" in name:
            continue
        seen.add(repo_id)
        branch = item.get("default_branch")
        flags = [item.get(k) for k in ("archived", "disabled")]
        archived = any(flags) if all(isinstance(f, bool) for f in flags) else None
        out.append(
            ScanRepository(
                repo_id,
                owner,
                name,
                branch if isinstance(branch, str) and branch else None,
                archived,
            )
        )
    return out


def _stop(exc: gidgethub.BadRequest, missing: Outcome) -> Outcome:
    """Return what an answer means for this repository; re-raise the others.

    `missing` is what a 404 or 422 means for the request that got it.
    """
    if isinstance(exc, gidgethub.RateLimitExceeded):
        raise exc  # stops the whole scan
    if exc.status_code == 409:  # "Git Repository is empty."
        return Outcome.EMPTY
    if exc.status_code in (404, 422):
        return missing
    if exc.status_code in UNREADABLE_STATUS:
        return Outcome.UNREADABLE
    raise exc


async def _metadata(gh: GitHubClient, repo: ScanRepository) -> ScanRepository | Outcome:
    """Return the repository with its default branch and archived flag read."""
    try:
        data = await gh.getitem(
            "/repos/{owner}/{repo}", {"owner": repo.owner, "repo": repo.name}
        )
    except gidgethub.BadRequest as exc:
        return _stop(exc, Outcome.UNREADABLE)
    item = {**data, "id": repo.id, "full_name": repo.full_name}
    found = parse_repositories([item] if isinstance(data, dict) else [])
    return found[0] if found else Outcome.UNREADABLE


async def _head_commit(
    gh: GitHubClient, repo: ScanRepository, ref: str
) -> tuple[str, str] | Outcome:
    """Return the head commit of `ref` and its tree sha."""
    try:
        # Each segment is escaped: branch names may hold `#`, `%`, `?`.
        data = await gh.getitem(
            "/repos/{owner}/{repo}/commits{/parts*}",
            {"owner": repo.owner, "repo": repo.name, "parts": ref.split("/")},
        )
    except gidgethub.BadRequest as exc:
        return _stop(exc, Outcome.NO_BRANCH)
    sha = data.get("sha") if isinstance(data, dict) else None
    if not isinstance(sha, str) or not SHA_RE.fullmatch(sha):
        return Outcome.NO_BRANCH
    tree = (data.get("commit") or {}).get("tree") or {}
    return sha, str(tree.get("sha"))


def _tree_ref(repo: ScanRepository) -> str:
    """Return the name the default branch's tree is read at.

    `HEAD` is the default branch; a branch name with a slash would not fit in
    the trees endpoint's one path segment.
    """
    branch = repo.default_branch
    return branch if branch is not None and "/" not in branch else "HEAD"


async def _triage(
    gh: GitHubClient, repo: ScanRepository
) -> tuple[ScanRepository, Mapping[str, Any]] | Outcome:
    """Read the default branch's tree and keep only repositories showing Rust.

    One request for most repositories: the trees endpoint accepts a branch
    name (or `HEAD`, the default branch, when the payload did not name it),
    and an empty repository answers 409 (docs/github.md 6.2). Archived and
    disabled repositories named so by the listing cost nothing; otherwise the
    flag is read only for the few that show Rust.
    """
    if repo.archived:
        return Outcome.ARCHIVED  # no check runs can be written there
    try:
        root = await read_tree(gh, repo.owner, repo.name, _tree_ref(repo))
    except EmptyRepository:
        return Outcome.EMPTY
    except gidgethub.BadRequest as exc:
        # Without the listing a missing repository and a missing branch look
        # alike; with it, the repository exists.
        listed = repo.default_branch is not None
        return _stop(exc, Outcome.NO_BRANCH if listed else Outcome.UNREADABLE)
    if not listing_shows_rust(root):
        return Outcome.NOT_RUST
    if repo.archived is None or repo.default_branch is None:
        known = await _metadata(gh, repo)
        if isinstance(known, Outcome):
            return known
        if known.archived:
            return Outcome.ARCHIVED
        repo = known
    return repo, root


async def _check_repository(
    ctx: Context, installation_id: int, repo: ScanRepository
) -> Outcome:
    gh = ctx.client(installation_id)
    triaged = await _triage(gh, repo)
    if isinstance(triaged, Outcome):
        return triaged
    repo, root = triaged
    branch = repo.default_branch or "HEAD"
    head = await _head_commit(gh, repo, branch)
    if isinstance(head, Outcome):
        return head
    sha, tree = head
    if await ctx.store.get_check_run(repo.id, sha) is not None:
        return Outcome.ALREADY_CHECKED  # e.g. a redelivered event
    target = CheckTarget(
        installation_id=installation_id,
        repo_id=repo.id,
        owner=repo.owner,
        repo=repo.name,
        head_sha=sha,
        head_branch=branch,
        default_branch=branch,
    )
    # The branch may have moved between the two reads: then the listing read
    # is not this commit's, and the snapshot reads the commit's own.
    listing = root if root.get("sha") == tree else None
    report = await run_check(target, ctx, quiet=True, root=listing)
    return Outcome.NO_REPORT if report is None else Outcome.CHECKED


def _work_time() -> float:
    return WORK_TIMEOUT_S * SCAN_TIME_SHARE


async def scan_repositories(
    ctx: Context,
    installation_id: int,
    repositories: Sequence[ScanRepository],
    *,
    limit: int = SCAN_LIMIT,
    budget_s: float | None = None,
) -> ScanResult:
    """Check the default-branch head of each repository, within the bounds."""
    log: dict[str, Any] = {"installation_id": installation_id}
    todo = list(repositories[:limit])
    over_limit = len(repositories) - len(todo)
    if over_limit:
        logger.warning(
            "installation scan capped: %d of %d repositories skipped",
            over_limit,
            len(repositories),
            extra={**log, "limit": limit, "skipped": over_limit},
        )
    stops = ctx.stops
    started_at = stops.get(installation_id, 0)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + (_work_time() if budget_s is None else budget_s)
    outcomes: Counter[Outcome] = Counter()
    stopped: Stop | None = None
    pending = iter(todo)

    async def worker() -> None:
        nonlocal stopped
        for repo in pending:
            if stopped is None and stops.get(installation_id, 0) != started_at:
                stopped = Stop.INSTALLATION_GONE
            if stopped is None and loop.time() >= deadline:
                stopped = Stop.TIME_BUDGET
            if stopped is not None:
                outcomes[Outcome.NOT_REACHED] += 1
                continue
            where = {**log, "repo": repo.full_name}
            try:
                outcome = await _check_repository(ctx, installation_id, repo)
            except gidgethub.RateLimitExceeded:
                stopped = Stop.RATE_LIMITED
                outcome = Outcome.FAILED
                logger.warning("installation scan rate limited", extra=where)
            except gidgethub.BadRequest as exc:
                if exc.status_code == 401:
                    stopped = Stop.UNAUTHORIZED
                outcome = Outcome.FAILED
                logger.warning(
                    "installation scan: repository lookup failed",
                    extra={**where, "status": exc.status_code},
                )
            except Exception:
                outcome = Outcome.FAILED
                logger.exception("installation scan: repository failed", extra=where)
            outcomes[outcome] += 1

    await asyncio.gather(*(worker() for _ in range(SCAN_CONCURRENCY)))
    result = ScanResult(dict(outcomes), over_limit, stopped)
    logger.info(
        "installation scan done",
        extra={
            **log,
            "repositories": len(repositories),
            "stopped": stopped.value if stopped is not None else "",
            **{o.value: n for o, n in outcomes.items()},
        },
    )
    return result


@router.register("installation")
async def on_installation(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Record an installation; scan an active one; stop and forget a gone one."""
    action = str(event.data.get("action"))
    active = ACTIVE.get(action)
    if active is None:
        return
    installation_id, account = _installation(event.data)
    store = ctx.store
    if not active:
        # Tokens die with the installation; suspended ones fail until unsuspend.
        stop_installation(ctx, installation_id)
    await store.set_installation(installation_id, account, active)
    logger.info(
        "installation recorded",
        extra={"installation_id": installation_id, "active": active},
    )
    if not active:
        await drop_scan(ctx, installation_id)
        return
    trigger = _trigger(event)
    listed = event.data.get("repositories")
    if action == "created" and isinstance(listed, list):
        await _remember(ctx, installation_id, parse_repositories(listed))
        await scan.enqueue(store, installation_id, listed, trigger, wake=ctx.scan_wake)
    else:
        # unsuspend, new_permissions_accepted (and a created payload without
        # its list) name no repositories: GitHub lists them, page by page.
        async def remember(page: list[Any]) -> None:
            await _remember(ctx, installation_id, parse_repositories(page))

        await scan.enqueue_listed(
            store, gh, installation_id, trigger, wake=ctx.scan_wake, on_page=remember
        )


@router.register("installation_repositories")
async def on_installation_repositories(
    event: Event, gh: GitHubClient, *, ctx: Context
) -> None:
    """Record the installation as active; scan the repositories it gained."""
    installation_id, account = _installation(event.data)
    store = ctx.store
    await store.set_installation(installation_id, account, True)
    added = event.data.get("repositories_added")
    if event.data.get("action") == "added" and isinstance(added, list):
        await _remember(ctx, installation_id, parse_repositories(added))
        await scan.enqueue(
            store, installation_id, added, _trigger(event), wake=ctx.scan_wake
        )
    elif event.data.get("action") == "removed":
        removed = parse_repositories(event.data.get("repositories_removed"))
        await store.remove_repositories(installation_id, [r.id for r in removed])


@router.register(scan.SCAN_EVENT)
async def on_scan_item(event: Event, gh: GitHubClient, *, ctx: Context) -> None:
    """Check one repository of a scan (a scan item taken from the queue)."""
    installation_id = payload.integer(event.data, "installation.id")
    found = parse_repositories([event.data.get("repository")])
    if not found:
        raise payload.PayloadError("repository", "is not a repository")
    repo = found[0]
    where = {"installation_id": installation_id, "repo": repo.full_name}
    if await ctx.store.installation_active(installation_id) is False:
        outcome = Outcome.NOT_REACHED  # uninstalled or suspended meanwhile
    else:
        outcome = await _check_repository(ctx, installation_id, repo)
    ctx.scan_wake.set()  # room on the queue for the next item
    logger.info("scan item done", extra={**where, "outcome": outcome.value})


def _trigger(event: Event) -> str:
    """Name what queued a scan: the delivery (a redelivery queues nothing new)."""
    return f"delivery-{event.delivery_id}"


async def _remember(
    ctx: Context, installation_id: int, repositories: Sequence[ScanRepository]
) -> None:
    """Record the repositories the installation sees ("N of M checked")."""
    await ctx.store.add_repositories(
        installation_id, [(r.id, r.full_name) for r in repositories]
    )


def _installation(data: Mapping[str, Any]) -> tuple[int, str]:
    """Return the installation's id and account login ("" when not given)."""
    account = payload.optional_text(data, "installation.account.login") or ""
    return payload.integer(data, "installation.id"), account
