"""Scanners that find where a repository builds for a musl target.

One module per configuration kind; each exposes `scan(path, text) -> SourceResult`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class UseKind(StrEnum):
    """The kind of configuration a musl use was found in (`kind` in scan JSON)."""

    WORKFLOW = "workflow"
    CARGO_CONFIG = "cargo-config"
    TOOLCHAIN = "toolchain"
    CROSS = "cross"
    DIST = "dist"
    DOCKER = "docker"
    GITLAB = "gitlab"
    CIRCLECI = "circleci"
    CIRRUS = "cirrus"
    AZURE = "azure"
    MAKE = "make"


@dataclass(frozen=True, slots=True)
class MuslUse:
    """A line of active configuration that makes the project build for musl.

    `target` is the text as it stands on the line (a triple, or for implicit uses
    the selector such as `musllinux_1_2` or `rust:alpine`); `resolves_to` lists
    the triples it produces.
    """

    path: str
    line: int
    target: str
    kind: UseKind
    implicit: bool = False
    resolves_to: tuple[str, ...] = ()
    # The directory the build runs cargo in ("" = the repository root), as the
    # file says (working directory, `--manifest-path`, `cd dir &&`, Docker
    # WORKDIR/COPY); the analysis resolves it to the nearest Cargo.lock at or
    # above it (`lockfile`, None when there is none: libc resolves fresh).
    project: str = ""
    lockfile: str | None = None


class HintKind(StrEnum):
    """Facts besides musl uses that change a finding's severity or fix."""

    TOOLCHAIN = "toolchain"  # value: pinned channel ("1.78.0", "stable", "nightly")
    DYNAMIC_MUSL = "dynamic-musl"  # -crt-static / link-self-contained=no
    SYSTEM_MUSL = "system-musl"  # value: environment, e.g. "alpine:3.19"
    UNRESOLVED = "unresolved"  # dynamic matrix / reusable workflow
    VENDORED = "vendored"  # [source.crates-io] replace-with
    LIBC_PIN = "libc-pin"  # value: requirement that blocks >= 0.2.146
    LIBC_PATCH = "libc-patch"  # [patch] of libc
    MSRV = "msrv"  # value: package/workspace rust-version


@dataclass(frozen=True, slots=True)
class Hint:
    """One fact found at `path`:`line`."""

    path: str
    line: int
    kind: HintKind
    value: str


@dataclass(frozen=True, slots=True)
class Problem:
    """A file that could not be read (malformed, binary, too big).

    `unread` is False when the file was still read whole (invalid UTF-8 read
    with replacement characters): the analysis is then not unsure because of it.
    `path` is "" for what a file walk left out.
    """

    path: str
    line: int
    message: str
    unread: bool = True


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one scanner found in one file."""

    uses: tuple[MuslUse, ...] = ()
    hints: tuple[Hint, ...] = ()
    problems: tuple[Problem, ...] = ()
