"""Musl uses in CircleCI (`.circleci/config.yml`): steps, parameters, images."""

from __future__ import annotations

from typing import Final

from bot.core.sources import SourceResult, UseKind
from bot.core.sources.yamlcfg import Dialect, scan_ci

DIALECT: Final = Dialect(
    kind=UseKind.CIRCLECI,
    jobs_key="jobs",
    condition_keys=frozenset({"when", "unless", "condition"}),
    skip_keys=frozenset(),
    image_keys=frozenset({"image"}),
    expressions=False,
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints of one CircleCI config."""
    return scan_ci(path, text, DIALECT)
