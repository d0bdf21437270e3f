"""Musl uses in Azure Pipelines (`azure-pipelines.yml`): variables, scripts, images."""

from __future__ import annotations

from typing import Final

from bot.core.sources import SourceResult, UseKind
from bot.core.sources.yamlcfg import Dialect, scan_ci

DIALECT: Final = Dialect(
    kind=UseKind.AZURE,
    jobs_key="",
    condition_keys=frozenset({"condition"}),
    skip_keys=frozenset({"services"}),
    image_keys=frozenset({"container", "image"}),
    expressions=True,
    scoped=False,
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints of one Azure Pipelines file."""
    return scan_ci(path, text, DIALECT)
