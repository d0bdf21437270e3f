"""Suggested changes: the ```suggestion block of a pull-request review comment."""

from __future__ import annotations

import re
from collections.abc import Sequence


def render_suggestion(new_lines: Sequence[str]) -> str:
    """Return a ```suggestion block replacing the commented lines with `new_lines`."""
    longest = max(
        (len(run) for line in new_lines for run in re.findall(r"`+", line)), default=0
    )
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence + "suggestion", *new_lines, fence]) + "\n"
