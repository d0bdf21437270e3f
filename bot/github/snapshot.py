"""The files the analysis reads at one commit: tree listing + blobs, cached by sha."""

from __future__ import annotations

import asyncio
import hashlib
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import gidgethub
from cachetools import LRUCache

from bot.core.analysis import lockfiles_needed
from bot.core.scope import (
    CONFIG_PATH,
    ROOT_LOCKFILE,
    SKIP_DIRS,
    is_lockfile,
    shows_rust,
    wanted,
)
from bot.core.sources import Problem
from bot.github.client import BlobTooLarge, GitHubClient

# Files bigger than this are not fetched (a real Cargo.lock is a few MB).
MAX_FILE_BYTES: Final = 8 * 1024 * 1024
# At most this many files are read from one commit.
MAX_FILES: Final = 500
# Sub-tree listings allowed when the recursive listing is truncated.
MAX_TREE_REQUESTS: Final = 200
BLOB_CACHE_BYTES: Final = 256 * 1024 * 1024
BLOB_FETCH_CONCURRENCY: Final = 8
MODE_SYMLINK: Final = "120000"
# Read first, whatever MAX_FILES cuts: the root lockfile judged by default, the
# toolchain and cargo config that decide the target, and the App's own config.
# Padding a commit with wanted files that sort earlier must not push them out.
FIRST_PATHS: Final = (
    ROOT_LOCKFILE,
    "rust-toolchain.toml",
    "rust-toolchain",
    ".cargo/config.toml",
    ".cargo/config",
    CONFIG_PATH,
)
_FIRST: Final = {path: i for i, path in enumerate(FIRST_PATHS)}
# Then files at places fixed by convention (the root, CI config folders), then
# the rest (Dockerfiles and Makefiles found anywhere), each group by path.
_CONVENTIONAL_DIRS: Final = (".github/workflows/", ".circleci/", ".cargo/")


def read_order(path: str) -> tuple[int, int, str]:
    """Return the sort key that decides which files the MAX_FILES cap keeps."""
    if path in _FIRST:
        return (0, _FIRST[path], path)
    conventional = "/" not in path or path.startswith(_CONVENTIONAL_DIRS)
    return (1 if conventional else 2, 0, path)


class EmptyRepository(Exception):
    """The repository has no commits yet (git data endpoints answer 409)."""


def git_blob_sha(data: bytes) -> str:
    """Return the git object id of a blob holding `data`."""
    header = f"blob {len(data)}\0".encode()
    return hashlib.sha1(header + data, usedforsecurity=False).hexdigest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Wanted files at one commit, with the blob sha of each."""

    head_sha: str
    files: Mapping[str, bytes]
    shas: Mapping[str, str]
    problems: tuple[Problem, ...] = ()
    fetched: int = 0  # blob requests this snapshot cost
    rust: bool = True  # the tree has a Cargo manifest, Rust marker or our config

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        """Return a key that changes whenever a read file changes."""
        return tuple(sorted(self.shas.items()))


@dataclass(slots=True)
class BlobCache:
    """Blob bytes by sha, bounded by total size; shared by every installation.

    Blob shas are content hashes, so a hit can never be stale. A blob id is
    only served to a caller that listed it in a tree it could read.
    """

    max_bytes: int = BLOB_CACHE_BYTES
    _blobs: LRUCache[str, bytes] = field(init=False)

    def __post_init__(self) -> None:
        self._blobs = LRUCache(maxsize=self.max_bytes, getsizeof=lambda b: len(b) or 1)

    def get(self, sha: str) -> bytes | None:
        """Return the cached bytes of the blob, if any."""
        return self._blobs.get(sha)

    def put(self, sha: str, data: bytes) -> None:
        """Remember the bytes of a blob (skipped when larger than the cache)."""
        if len(data) < self.max_bytes:
            self._blobs[sha] = data


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    sha: str
    size: int | None


async def read_tree(
    gh: GitHubClient, owner: str, repo: str, sha: str, *, recursive: bool = True
) -> Mapping[str, Any]:
    """Return the (recursive) tree listing at a commit, tree or branch name.

    The trees endpoint resolves any of them (docs/github.md 6.2); an empty
    repository raises EmptyRepository.
    """
    url = "/repos/{owner}/{repo}/git/trees/{sha}" + (
        "?recursive=1" if recursive else ""
    )
    try:
        data = await gh.getitem(url, {"owner": owner, "repo": repo, "sha": sha})
    except gidgethub.HTTPException as exc:
        if exc.status_code == 409:
            raise EmptyRepository(f"{owner}/{repo} is empty") from exc
        raise
    if not isinstance(data, dict) or not isinstance(data.get("tree"), list):
        raise ValueError("tree listing is not a git tree")
    return data


def _read_listing(
    prefix: str,
    items: list[Any],
    entries: list[_Entry],
    queue: deque[tuple[str, str]] | None,
) -> bool:
    """Add the wanted regular files of one tree listing to `entries`.

    Sub-trees go to `queue` (when walking level by level). Return whether any
    file shows Rust (`shows_rust`).
    """
    rust = False
    for item in items:
        kind = item.get("type")
        if kind == "tree":
            if queue is not None and item.get("path") not in SKIP_DIRS:
                queue.append((f"{prefix}{item['path']}/", str(item["sha"])))
            continue
        # Submodules (type commit) live in another repository, symlinks (mode
        # 120000) point anywhere: neither is read.
        if kind != "blob":
            continue
        path = prefix + str(item.get("path", ""))
        rust = rust or shows_rust(path)
        if item.get("mode") == MODE_SYMLINK or not wanted(path):
            continue
        size = item.get("size")
        entries.append(
            _Entry(path, str(item["sha"]), size if isinstance(size, int) else None)
        )
    return rust


def listing_shows_rust(root: Mapping[str, Any]) -> bool:
    """Return whether a recursive listing shows Rust (an unfinished one does)."""
    if root.get("truncated"):
        return True  # not all seen: do not stay quiet on a guess
    return _read_listing("", root["tree"], [], None)


async def list_wanted(
    gh: GitHubClient,
    owner: str,
    repo: str,
    sha: str,
    root: Mapping[str, Any] | None = None,
) -> tuple[list[_Entry], list[Problem], bool]:
    """Return the wanted files at the commit, notes on what was left out, and
    whether the tree shows Rust (`shows_rust`).

    `root` is the commit's recursive listing when the caller has read it.
    """
    entries: list[_Entry] = []
    if root is None:
        root = await read_tree(gh, owner, repo, sha, recursive=True)
    if not root.get("truncated"):
        return entries, [], _read_listing("", root["tree"], entries, None)
    # Over 100,000 entries or 7 MB: walk sub-trees one level at a time,
    # breadth first, skipping directories the analysis never reads.
    problems: list[Problem] = []
    queue: deque[tuple[str, str]] = deque([("", sha)])
    requests = 0
    rust = False
    while queue:
        if requests >= MAX_TREE_REQUESTS:
            problems.append(
                Problem(
                    "",
                    1,
                    f"repository tree too large: {len(queue)} directories not read",
                )
            )
            rust = True  # not all seen: do not stay quiet on a guess
            break
        prefix, tree_sha = queue.popleft()
        listing = await read_tree(gh, owner, repo, tree_sha, recursive=False)
        requests += 1
        rust = _read_listing(prefix, listing["tree"], entries, queue) or rust
    return entries, problems, rust


async def take_snapshot(
    gh: GitHubClient,
    owner: str,
    repo: str,
    sha: str,
    blobs: BlobCache,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    root: Mapping[str, Any] | None = None,
) -> Snapshot:
    """Return the wanted files at commit `sha`, reading blobs from the cache first.

    `root` is the commit's recursive listing if the caller has it (the
    organisation scan reads it first, to triage). Nested lockfiles are read in
    a second pass, only those a musl build uses (`core.analysis.lockfiles_needed`).
    """
    entries, problems, rust = await list_wanted(gh, owner, repo, sha, root)
    entries.sort(key=lambda e: read_order(e.path))
    if len(entries) > MAX_FILES:
        problems.append(
            Problem(
                "", 1, f"{len(entries) - MAX_FILES} files beyond {MAX_FILES} not read"
            )
        )
        entries = entries[:MAX_FILES]
    files: dict[str, bytes] = {}
    shas: dict[str, str] = {}
    gate = asyncio.Semaphore(BLOB_FETCH_CONCURRENCY)

    async def fetch(entry: _Entry) -> None:
        async with gate:
            try:
                data = await gh.get_raw(
                    "/repos/{owner}/{repo}/git/blobs/{sha}",
                    {"owner": owner, "repo": repo, "sha": entry.sha},
                    max_bytes=max_file_bytes,
                )
            except BlobTooLarge:
                # The tree under-stated its size: the read stopped at the cap.
                over.append(entry)
                return
        blobs.put(entry.sha, data)
        files[entry.path] = data

    async def read(batch: list[_Entry]) -> int:
        """Read `batch` (the cache first); return the blob requests made."""
        missing: list[_Entry] = []
        for entry in batch:
            if entry.size is not None and entry.size > max_file_bytes:
                problems.append(
                    Problem(
                        entry.path,
                        1,
                        f"{entry.path} is {entry.size} bytes, over the "
                        f"{max_file_bytes}-byte limit; skipped",
                    )
                )
                continue
            shas[entry.path] = entry.sha
            cached = blobs.get(entry.sha)
            if cached is None:
                missing.append(entry)
            else:
                files[entry.path] = cached
        await asyncio.gather(*(fetch(e) for e in missing))
        return len(missing)

    over: list[_Entry] = []
    # Nested lockfiles come second: only those a musl build uses are read.
    nested = {e.path: e for e in entries if is_lockfile(e.path)}
    root_lockfile = nested.pop(ROOT_LOCKFILE, None)
    fetched = await read([e for e in entries if e.path not in nested])
    if nested:
        listed = [*nested, *([ROOT_LOCKFILE] if root_lockfile is not None else [])]
        needed = lockfiles_needed(files, listed)
        fetched += await read([nested[p] for p in sorted(needed)])
    for entry in sorted(over, key=lambda e: e.path):
        shas.pop(entry.path, None)
        problems.append(
            Problem(
                entry.path,
                1,
                f"{entry.path} is over the {max_file_bytes}-byte limit; skipped",
            )
        )
    return Snapshot(sha, files, shas, tuple(problems), fetched, rust)


def config_text(snapshot: Snapshot) -> str | None:
    """Return the repository's `.github/musl-check.yml`, if committed."""
    data = snapshot.files.get(CONFIG_PATH)
    if data is None:
        return None
    return data.decode("utf-8", errors="replace")
