"""Held-out detection check: real public files outside the DEV corpus, labelled by hand.

Each case under tests/fixtures/heldout/<case>/ holds unmodified repository files and
an expected.json (`musl_uses`, `traps`) labelled by the rules of the corpus README.
The test measures recall over the expected (path, line) pairs and reports trap lines
the analysis flags; it guards against overfitting the scanners to the DEV corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.analysis import analyse

HELDOUT = Path(__file__).resolve().parents[1] / "fixtures" / "heldout"
CASES = sorted(p for p in HELDOUT.iterdir() if (p / "expected.json").is_file())
Line = tuple[str, int]


def load_files(case: Path) -> dict[str, bytes]:
    """Return every file of a case (repository-relative path -> bytes)."""
    return {
        p.relative_to(case).as_posix(): p.read_bytes()
        for p in sorted(case.rglob("*"))
        if p.is_file() and p.name != "expected.json"
    }


def reported(case: Path) -> set[Line]:
    """Return the (path, line) pairs the analysis reports for a case."""
    report = analyse(load_files(case))
    lines = {(u.path, u.line) for u in report.musl_uses}
    lines |= {(f.path, f.line) for f in report.findings if f.path and f.line}
    return lines


def compare(case: Path) -> tuple[list[Line], list[Line], int]:
    """Return (missed expected lines, reported trap lines, expected count)."""
    expected: dict[str, Any] = json.loads((case / "expected.json").read_text())
    found = reported(case)
    wanted = [(u["path"], u["line"]) for u in expected["musl_uses"]]
    missed = [x for x in wanted if x not in found]
    traps = [
        (t["path"], t["line"])
        for t in expected["traps"]
        if (t["path"], t["line"]) in found
    ]
    return missed, traps, len(wanted)


def test_heldout_is_present() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_heldout_case(case: Path) -> None:
    missed, traps, _ = compare(case)
    assert not traps, f"trap lines reported: {traps}"
    assert not missed, f"expected musl uses missed: {missed}"


def test_heldout_recall_and_traps() -> None:
    wanted = hit = 0
    misses: list[str] = []
    trap_hits: list[str] = []
    for case in CASES:
        missed, traps, total = compare(case)
        wanted += total
        hit += total - len(missed)
        misses += [f"{case.name}: {p}:{n}" for p, n in missed]
        trap_hits += [f"{case.name}: {p}:{n}" for p, n in traps]
    recall = hit / wanted
    summary = f"recall {hit}/{wanted} = {recall:.3f}; missed {misses}; trap {trap_hits}"
    assert recall >= 0.98, summary
    assert not trap_hits, summary
