"""Fix planning: which libc to move to, and the exact Cargo.lock edit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One line of libc's sparse-index file (`vers`, `cksum`, `yanked`, ...)."""

    vers: str
    cksum: str
    yanked: bool
    rust_version: str | None = None


@dataclass(frozen=True, slots=True)
class LineEdit:
    """Replace line `line` (1-based), whose text is `old`, with `new`."""

    line: int
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class FixPlan:
    """How to fix one lockfile: the command always, the edit when it is safe.

    `edits` is empty when the lock cannot be edited by hand (several libc
    versions, git/path libc, no index data); `reason` then says why.
    """

    path: str
    old_version: str
    new_version: str | None
    command: str
    edits: tuple[LineEdit, ...] = ()
    reason: str = ""
