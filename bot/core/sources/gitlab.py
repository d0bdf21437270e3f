"""Musl uses in GitLab CI (`.gitlab-ci.yml`): scripts, variables, images."""

from __future__ import annotations

from typing import Final

from bot.core.sources import SourceResult, UseKind
from bot.core.sources.yamlcfg import Dialect, scan_ci

DIALECT: Final = Dialect(
    kind=UseKind.GITLAB,
    jobs_key="",
    condition_keys=frozenset({"if", "only", "except"}),
    skip_keys=frozenset({"services"}),
    image_keys=frozenset({"image"}),
    expressions=False,
    global_keys=frozenset(
        {"image", "default", "variables", "before_script", "after_script", "workflow"}
    ),
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints of one GitLab CI file."""
    return scan_ci(path, text, DIALECT)
