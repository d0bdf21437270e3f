"""Musl uses in Cirrus CI (`.cirrus.yml`): tasks, env, scripts, containers."""

from __future__ import annotations

from typing import Final

from bot.core.sources import SourceResult, UseKind
from bot.core.sources.yamlcfg import Dialect, scan_ci

DIALECT: Final = Dialect(
    kind=UseKind.CIRRUS,
    jobs_key="",
    condition_keys=frozenset({"only_if", "skip", "trigger_type"}),
    skip_keys=frozenset({"additional_containers"}),
    image_keys=frozenset({"image"}),
    expressions=False,
    global_keys=frozenset({"env", "container", "arm_container", "global_env"}),
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints of one Cirrus CI file."""
    return scan_ci(path, text, DIALECT)
