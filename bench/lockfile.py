"""Cargo.lock scanner speed over every corpus lockfile, against tomllib.

Both sides read the same in-memory text, best of several runs; the last line is
`lockfile speedup: N.Nx`.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from bot.core.lockfile import parse_lockfile

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Return the fastest of `runs` timings of `func`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print per-run timings of tomllib and parse_lockfile, then the ratio."""
    texts = [p.read_text(encoding="utf-8") for p in sorted(CORPUS.rglob("Cargo.lock"))]
    size = sum(len(t) for t in texts)
    packages = sum(len(parse_lockfile(t).packages) for t in texts)
    toml = best_of(15, lambda: [tomllib.loads(t) for t in texts])
    ours = best_of(15, lambda: [parse_lockfile(t) for t in texts])
    print(f"{len(texts)} lockfiles, {size / 1e6:.2f} MB, {packages} packages")
    print(f"tomllib.loads:  {toml * 1e3:8.2f} ms")
    print(f"parse_lockfile: {ours * 1e3:8.2f} ms")
    print(f"lockfile speedup: {toml / ours:.1f}x")


if __name__ == "__main__":
    main()
