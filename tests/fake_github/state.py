"""The fake GitHub's state: repositories, commits, trees, blobs, check runs."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .schema import spec

MODE_FILE = "100644"
MODE_SYMLINK = "120000"
MODE_TREE = "040000"
MODE_COMMIT = "160000"


def git_sha(kind: str, data: bytes) -> str:
    """Return the git object id of an object of `kind` holding `data`."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()  # noqa: S324 - git ids


def example(name: str) -> dict[str, Any]:
    """Return a deep copy of one of GitHub's response examples."""
    return copy.deepcopy(spec()["components"]["examples"][name]["value"])


@dataclass
class Entry:
    """One tree entry."""

    name: str
    mode: str
    type: str
    sha: str
    size: int | None = None


@dataclass
class Repo:
    """A repository of the fake."""

    id: int
    owner: str
    name: str
    installation_id: int
    default_branch: str = "main"
    commits: dict[str, str] = field(default_factory=dict)  # commit sha -> tree
    trees: dict[str, list[Entry]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    pulls: dict[str, list[int]] = field(default_factory=dict)  # sha -> numbers
    empty: bool = False
    truncate_after: int | None = None  # recursive listings cut after N entries

    @property
    def full_name(self) -> str:
        """Return owner/name."""
        return f"{self.owner}/{self.name}"

    def add_blob(self, data: bytes) -> str:
        """Store a blob and return its sha."""
        sha = git_sha("blob", data)
        self.blobs[sha] = data
        return sha

    def build_tree(self, node: Mapping[str, Any]) -> str:
        """Store a nested {name: bytes | dict | Entry} mapping as trees."""
        entries = []
        for name, value in sorted(node.items()):
            if isinstance(value, Entry):
                entries.append(value)
            elif isinstance(value, dict):
                entries.append(Entry(name, MODE_TREE, "tree", self.build_tree(value)))
            else:
                entries.append(
                    Entry(name, MODE_FILE, "blob", self.add_blob(value), len(value))
                )
        raw = b"".join(
            f"{e.mode.lstrip('0')} {e.name}\0".encode() + bytes.fromhex(e.sha)
            for e in entries
        )
        sha = git_sha("tree", raw)
        self.trees[sha] = entries
        return sha

    def walk(self, tree_sha: str, prefix: str = "") -> list[tuple[str, Entry]]:
        """Return every entry below a tree, depth first, with its path."""
        out = []
        for entry in self.trees[tree_sha]:
            out.append((prefix + entry.name, entry))
            if entry.type == "tree":
                out.extend(self.walk(entry.sha, f"{prefix}{entry.name}/"))
        return out


@dataclass
class Recorded:
    """One request the App made."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Fault:
    """An error the fake answers instead of the real response."""

    method: str
    path_contains: str
    status: int
    times: int
    headers: dict[str, str]
    exact: bool = False  # `path_contains` is the whole path


class FakeGitHub:
    """State of the fake GitHub API, shared by its route modules."""

    def __init__(self, app_id: int, public_key_pem: bytes) -> None:
        self.app_id = app_id
        self.public_key_pem = public_key_pem
        self.repos: dict[str, Repo] = {}
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.check_runs: list[dict[str, Any]] = []
        self.tokens: dict[str, int] = {}  # token -> installation id
        self.faults: list[Fault] = []
        self.extra: dict[str, Any] = {}  # state of optional route modules
        self._ids = 1000

    def next_id(self) -> int:
        """Return a fresh numeric id."""
        self._ids += 1
        return self._ids

    def add_repo(
        self, full_name: str, *, installation_id: int = 1, default_branch: str = "main"
    ) -> Repo:
        """Create (or return) a repository."""
        if full_name not in self.repos:
            owner, name = full_name.split("/")
            self.repos[full_name] = Repo(
                self.next_id(), owner, name, installation_id, default_branch
            )
        return self.repos[full_name]

    def add_commit(
        self, full_name: str, files: Mapping[str, bytes | Entry], sha: str | None = None
    ) -> str:
        """Add a commit whose tree holds `files` (path -> bytes); return its sha."""
        repo = self.add_repo(full_name)
        root: dict[str, Any] = {}
        for path, data in files.items():
            node = root
            *dirs, name = path.split("/")
            for part in dirs:
                node = node.setdefault(part, {})
            node[name] = data
        tree = repo.build_tree(root)
        if sha is None:
            sha = git_sha("commit", f"tree {tree}\n{len(repo.commits)}".encode())
        repo.commits[sha] = tree
        return sha

    def add_folder(self, full_name: str, folder: Path, sha: str | None = None) -> str:
        """Add a commit holding a folder's files (a corpus case minus expected.json)."""
        return self.add_commit(full_name, folder_files(folder), sha)

    def add_file(self, full_name: str, sha: str, path: str, data: bytes) -> str:
        """Add `path` to the commit `sha` (created if missing); return the sha."""
        repo = self.add_repo(full_name)
        files: dict[str, bytes | Entry] = {}
        if sha in repo.commits:
            for p, e in repo.walk(repo.commits[sha]):
                if e.type == "blob" and e.mode == MODE_FILE:
                    files[p] = repo.blobs[e.sha]
                elif e.type != "tree":
                    files[p] = Entry(
                        p.rsplit("/", 1)[-1], e.mode, e.type, e.sha, e.size
                    )
        files[path] = data
        return self.add_commit(full_name, files, sha)

    def fail(
        self,
        method: str,
        path_contains: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        exact: bool = False,
    ) -> None:
        """Answer the next `times` matching requests with `status`."""
        self.faults.append(
            Fault(method, path_contains, status, times, headers or {}, exact)
        )

    def take_fault(self, method: str, path: str) -> Fault | None:
        """Return (and use up) a fault matching the request, if any."""
        for fault in self.faults:
            if (
                fault.times > 0
                and fault.method == method
                and (
                    fault.path_contains == path
                    if fault.exact
                    else fault.path_contains in path
                )
            ):
                fault.times -= 1
                return fault
        return None

    def add_check_run(self, full_name: str, head_sha: str, name: str) -> dict[str, Any]:
        """Add a check run made earlier (by this App, e.g. before a restart)."""
        run: dict[str, Any] = {
            "id": self.next_id(),
            "repo": full_name,
            "head_sha": head_sha,
            "name": name,
            "status": "queued",
            "conclusion": None,
            "external_id": "",
            "details_url": None,
            "started_at": None,
            "completed_at": None,
            "app_id": self.app_id,
            "actions": [],
            "output": {"title": None, "summary": None, "text": None, "annotations": []},
            "updates": [],
        }
        self.check_runs.append(run)
        return run

    def runs_for(
        self, full_name: str, head_sha: str | None = None
    ) -> list[dict[str, Any]]:
        """Return the check runs of a repository (at one sha if given)."""
        return [
            r
            for r in self.check_runs
            if r["repo"] == full_name and head_sha in (None, r["head_sha"])
        ]

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        """Return the recorded requests matching a method and a path fragment."""
        return [
            r
            for r in self.requests
            if method in (None, r.method) and contains in r.path
        ]


def folder_files(folder: Path) -> dict[str, bytes]:
    """Return the files of a folder by repository path, skipping expected.json."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != "expected.json"
    }
