"""Cargo.lock reader (formats v1-v4) that keeps 1-based line numbers."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class SourceKind(StrEnum):
    """Where a locked package comes from."""

    REGISTRY = "registry"  # crates-io (git or sparse protocol)
    OTHER_REGISTRY = "other-registry"  # any other registry+/sparse+ source
    GIT = "git"
    PATH = "path"  # no `source`: path dependency or workspace member


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One `[[package]]` entry."""

    name: str
    version: str
    line: int  # 1-based line of the `version =` entry
    source: str | None
    source_kind: SourceKind
    checksum: str | None  # inline (v2+) or from v1 `[metadata]`
    checksum_line: int | None  # line holding the checksum (v1: the metadata line)
    start_line: int  # line of the `[[package]]` header
    end_line: int  # last non-blank line of the block
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LockfileError:
    """Why a lockfile could not be read, and where."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Lockfile:
    """A parsed Cargo.lock; on bad input `error` is set, `packages` may be partial."""

    path: str
    format_version: int | None  # None when it cannot be told (no checksums, no key)
    packages: tuple[LockedPackage, ...]
    error: LockfileError | None = None

    def named(self, name: str) -> tuple[LockedPackage, ...]:
        """Return the packages called exactly `name`."""
        return tuple(p for p in self.packages if p.name == name)
