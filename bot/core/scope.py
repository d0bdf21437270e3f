"""Which repository files the analysis reads, and which scanner reads each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Final

from bot.core.sources import (
    SourceResult,
    azure,
    cargo_config,
    circleci,
    cirrus,
    cross,
    dist,
    docker,
    gitlab,
    make,
    toolchain,
    workflows,
)

Scanner = Callable[[str, str], SourceResult]

LOCKFILE_NAME: Final = "Cargo.lock"
ROOT_LOCKFILE: Final = "Cargo.lock"
CONFIG_PATH: Final = ".github/musl-check.yml"

# Root-level files, by exact repository-relative path.
_ROOT_FILES: Final[dict[str, Scanner]] = {
    ".cargo/config.toml": cargo_config.scan,
    ".cargo/config": cargo_config.scan,
    "rust-toolchain.toml": toolchain.scan,
    "rust-toolchain": toolchain.scan,
    "Cross.toml": cross.scan,
    "Cargo.toml": dist.scan,
    "dist-workspace.toml": dist.scan,
    "dist.toml": dist.scan,
    ".gitlab-ci.yml": gitlab.scan,
    ".circleci/config.yml": circleci.scan,
    ".cirrus.yml": cirrus.scan,
    "azure-pipelines.yml": azure.scan,
    "Makefile": make.scan,
    "makefile": make.scan,
    "GNUmakefile": make.scan,
    "justfile": make.scan,
    "Justfile": make.scan,
    ".justfile": make.scan,
}

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


def scanner_for(path: str) -> Scanner | None:
    """Return the scanner for the configuration file at `path`, if any."""
    if path in _ROOT_FILES:
        return _ROOT_FILES[path]
    if _is_workflow(path):
        return workflows.scan
    if _is_dockerfile(PurePosixPath(path).name):
        return docker.scan
    return None


def is_lockfile(path: str) -> bool:
    """Return whether `path` is a Cargo.lock (root or nested)."""
    return PurePosixPath(path).name == LOCKFILE_NAME


def wanted(path: str) -> bool:
    """Return whether the analysis reads the file at repository path `path`."""
    if any(part in SKIP_DIRS for part in PurePosixPath(path).parts[:-1]):
        return False
    return is_lockfile(path) or path == CONFIG_PATH or scanner_for(path) is not None
