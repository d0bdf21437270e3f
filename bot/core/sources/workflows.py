"""Musl uses in GitHub Actions workflows (`.github/workflows/*.yml|*.yaml`).

Matrix values, `include:` entries, toolchain inputs, `--target` flags, env
values and artifact names are uses; `exclude:` entries, comments, steps with
`if: false`, tool downloads and conditions on targets the job never builds are
not (docs/domain.md 6.1, traps 1-7).
"""

from __future__ import annotations

from typing import Final

from bot.core.sources import SourceResult, UseKind
from bot.core.sources.yamlcfg import Dialect, scan_ci

DIALECT: Final = Dialect(
    kind=UseKind.WORKFLOW,
    jobs_key="jobs",
    condition_keys=frozenset({"if"}),
    skip_keys=frozenset({"services"}),
    image_keys=frozenset({"container", "image"}),
    expressions=True,
    job_scoped_conditions=True,
    split_jobs=True,
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints of one GitHub Actions workflow."""
    return scan_ci(path, text, DIALECT)
