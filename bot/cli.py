"""Command line: `musl-check scan | serve`."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return the exit code."""
    raise SystemExit("musl-check: not built yet")
