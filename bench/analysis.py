"""Analysis speed over the DEV corpus against a naive parse of the same files.

Baseline: parse every lockfile with tomllib and every YAML file with PyYAML's
pure-Python `safe_load`. Both sides run in this process on the same in-memory
bytes, in alternating rounds; the last line is `analysis speedup: N.Nx`
(budget: >= 20x).
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.cli import collect_files
from bot.core.analysis import analyse

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"


def naive(files: dict[str, bytes]) -> None:
    """Parse lockfiles with tomllib and YAML with the pure-Python safe loader."""
    for path, data in files.items():
        text = data.decode("utf-8", errors="replace")
        if path.endswith("Cargo.lock"):
            tomllib.loads(text)
        elif path.endswith((".yml", ".yaml")):
            yaml.load(text, Loader=yaml.SafeLoader)  # the pure-Python loader on purpose


def best_of(runs: int, func: Callable[[], None]) -> float:
    """Return the fastest of `runs` timings of `func`, in seconds."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    cases = [
        collect_files(p)
        for p in sorted(CORPUS.iterdir())
        if (p / "expected.json").is_file()
    ]
    size = sum(len(d) for files in cases for d in files.values())
    nfiles = sum(len(files) for files in cases)

    def run_analysis() -> None:
        for files in cases:
            analyse(files)

    def run_naive() -> None:
        for files in cases:
            naive(files)

    run_analysis()  # warm caches (regex compilation, imports)
    # Three rounds of 5 + 1 runs: a slow spell of the machine then falls on
    # both sides instead of on one (best of 15 ours, best of 3 baseline).
    ours = base = float("inf")
    for _ in range(3):
        ours = min(ours, best_of(5, run_analysis))
        base = min(base, best_of(1, run_naive))
    print(f"cases: {len(cases)}, files: {nfiles}, bytes: {size}")
    print(f"musl-check analysis: {ours * 1000:.1f} ms")
    print(f"tomllib + yaml.safe_load (pure Python): {base * 1000:.1f} ms")
    print(f"analysis speedup: {base / ours:.1f}x")


if __name__ == "__main__":
    main()
