"""Cargo.lock reading speed over every corpus lockfile, against tomllib.

Three timings on the same data, best of several runs: tomllib, the full parse
(every package built), and what the analysis does (decode the bytes, build only
the packages its rules read). The last line is `lockfile speedup: N.Nx`, the
analysis read against tomllib.
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path

from bot.core.analysis import LOCKFILE_NAMES, read_lockfile
from bot.core.lockfile import parse_lockfile

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def best_of(runs: int, func: Callable[[], object]) -> float:
    """Return the fastest of `runs` timings of `func`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Print per-run timings of tomllib, the full parse and the analysis read."""
    blobs = [p.read_bytes() for p in sorted(CORPUS.rglob("Cargo.lock"))]
    texts = [b.decode("utf-8") for b in blobs]
    size = sum(len(t) for t in texts)
    packages = sum(len(parse_lockfile(t).packages) for t in texts)
    kept = sum(len(parse_lockfile(t, names=LOCKFILE_NAMES).packages) for t in texts)
    toml = best_of(15, lambda: [tomllib.loads(t) for t in texts])
    full = best_of(15, lambda: [parse_lockfile(t) for t in texts])
    ours = best_of(
        15, lambda: [read_lockfile("Cargo.lock", b, LOCKFILE_NAMES) for b in blobs]
    )
    print(f"{len(texts)} lockfiles, {size / 1e6:.2f} MB, {packages} packages")
    print(f"tomllib.loads:  {toml * 1e3:8.2f} ms")
    print(f"parse_lockfile: {full * 1e3:8.2f} ms (every package; {toml / full:.1f}x)")
    print(
        f"analysis read:  {ours * 1e3:8.2f} ms (bytes in, {kept} packages of "
        f"{', '.join(sorted(LOCKFILE_NAMES))} built)"
    )
    print(f"lockfile speedup: {toml / ours:.1f}x")


if __name__ == "__main__":
    main()
