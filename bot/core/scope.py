"""Which repository files the analysis reads, and which scanner reads each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Final

from bot.core.sources import SourceResult
from bot.core.sources.azure import scan as scan_azure
from bot.core.sources.cargo_config import scan as scan_cargo_config
from bot.core.sources.circleci import scan as scan_circleci
from bot.core.sources.cirrus import scan as scan_cirrus
from bot.core.sources.cross import scan as scan_cross
from bot.core.sources.dist import scan as scan_dist
from bot.core.sources.docker import scan as scan_docker
from bot.core.sources.gitlab import scan as scan_gitlab
from bot.core.sources.make import scan as scan_make
from bot.core.sources.toolchain import scan as scan_toolchain
from bot.core.sources.workflows import scan as scan_workflows

Scanner = Callable[[str, str], SourceResult]

LOCKFILE_NAME: Final = "Cargo.lock"
ROOT_LOCKFILE: Final = "Cargo.lock"
CONFIG_PATH: Final = ".github/musl-check.yml"

# Root-level files, by exact repository-relative path.
_ROOT_FILES: Final[dict[str, Scanner]] = {
    ".cargo/config.toml": scan_cargo_config,
    ".cargo/config": scan_cargo_config,
    "rust-toolchain.toml": scan_toolchain,
    "rust-toolchain": scan_toolchain,
    "Cross.toml": scan_cross,
    "Cargo.toml": scan_dist,
    "dist-workspace.toml": scan_dist,
    "dist.toml": scan_dist,
    ".gitlab-ci.yml": scan_gitlab,
    ".circleci/config.yml": scan_circleci,
    ".cirrus.yml": scan_cirrus,
    "azure-pipelines.yml": scan_azure,
    "Makefile": scan_make,
    "makefile": scan_make,
    "GNUmakefile": scan_make,
    "justfile": scan_make,
    "Justfile": scan_make,
    ".justfile": scan_make,
}

# Root files that show a Rust project, or a repository asking for musl-check
# (with any Cargo.toml or Cargo.lock): one with none of them and no musl build
# gets no check run from automatic triggers.
_RUST_ROOT_FILES: Final = frozenset(
    {
        "rust-toolchain",
        "rust-toolchain.toml",
        ".cargo/config",
        ".cargo/config.toml",
        "Cross.toml",
        "dist-workspace.toml",
        "dist.toml",
        CONFIG_PATH,
    }
)

# Directories a repository snapshot never needs to descend into.
SKIP_DIRS: Final = frozenset({".git", "target", "node_modules", ".venv", "vendor"})


def _is_dockerfile(name: str) -> bool:
    lower = name.lower()
    return (
        lower in {"dockerfile", "containerfile"}
        or lower.startswith(("dockerfile.", "containerfile."))
        or lower.endswith((".dockerfile", ".containerfile"))
    )


def _is_workflow(path: str) -> bool:
    # GitHub only runs workflows at the top level of .github/workflows.
    parent, _, name = path.rpartition("/")
    return parent == ".github/workflows" and name.endswith((".yml", ".yaml"))


def _name(path: str) -> str:
    """Return the last component of `path`, as `PurePosixPath(path).name` does."""
    name = path.rpartition("/")[2]
    if name and name != ".":
        return name
    # A trailing `/` or `/.`: rare, let pathlib drop the empty components.
    return PurePosixPath(path).name


def scanner_for(path: str) -> Scanner | None:
    """Return the scanner for the configuration file at `path`, if any."""
    scanner = _ROOT_FILES.get(path)
    if scanner is not None:
        return scanner
    if _is_workflow(path):
        return scan_workflows
    if _is_dockerfile(_name(path)):
        return scan_docker
    return None


def is_lockfile(path: str) -> bool:
    """Return whether `path` is a Cargo.lock (root or nested)."""
    return _name(path) == LOCKFILE_NAME


def shows_rust(path: str) -> bool:
    """Return whether a file at `path` shows a repository musl-check is for.

    Any Cargo manifest (a workspace member's too, though it is never read) or
    lockfile, a toolchain, cargo, cross or dist file, or the App's own config.
    """
    return _name(path) in ("Cargo.toml", LOCKFILE_NAME) or path in _RUST_ROOT_FILES


def wanted(path: str) -> bool:
    """Return whether the analysis reads the file at repository path `path`."""
    parent, _, name = path.rpartition("/")
    if parent:
        if name and name != ".":
            parents = parent.split("/")
        else:
            parents = list(PurePosixPath(path).parts[:-1])
        if not SKIP_DIRS.isdisjoint(parents):
            return False
    return is_lockfile(path) or path == CONFIG_PATH or scanner_for(path) is not None
