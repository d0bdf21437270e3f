"""Every DEV corpus case, scanned end to end, against its hand-checked expected.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from tests.paths import CORPUS

CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())
WORDS = {
    "at-risk": "at risk",
    "old-libc": "old libc, no musl use found",
    "musl-libc-ok": "musl used, libc ok",
    "clean": "clean",
}


def scan_json(case: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main(["scan", str(case), "--format", "json", "--fail-on", "never"])
    out = capsys.readouterr().out
    data: dict[str, Any] = json.loads(out)
    return data


def reported_lines(report: dict[str, Any]) -> set[tuple[str, int]]:
    lines = {(u["path"], u["line"]) for u in report["musl_uses"]}
    lines |= {(f["path"], f["line"]) for f in report["findings"]}
    for lock in report["lockfiles"]:
        if lock["path"] == "Cargo.lock":
            lines |= {(lock["path"], lib["line"]) for lib in lock["libc"]}
    return lines


def test_corpus_is_present() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((case / "expected.json").read_text())
    report = scan_json(case, capsys)
    assert report["schema"] == 1
    assert WORDS[report["verdict"]] == expected["verdict"]
    root = [lock for lock in report["lockfiles"] if lock["path"] == "Cargo.lock"]
    libc = {(x["version"], x["line"]) for lock in root for x in lock["libc"]}
    assert libc == {(x["version"], x["line"]) for x in expected["libc"]}
    if expected["lockfile_version"] is not None:
        assert root[0]["format_version"] == expected["lockfile_version"]
    traps = {(t["path"], t["line"]) for t in expected["traps"]}
    assert not reported_lines(report) & traps
    found = {(u["path"], u["line"]): u for u in report["musl_uses"]}
    missing = [
        (u["path"], u["line"])
        for u in expected["musl_uses"]
        if (u["path"], u["line"]) not in found
    ]
    assert not missing


def test_recall_over_whole_corpus(capsys: pytest.CaptureFixture[str]) -> None:
    wanted = hit = 0
    for case in CASES:
        expected = json.loads((case / "expected.json").read_text())
        found = {(u["path"], u["line"]) for u in scan_json(case, capsys)["musl_uses"]}
        wanted += len(expected["musl_uses"])
        hit += sum((u["path"], u["line"]) in found for u in expected["musl_uses"])
    assert hit / wanted >= 0.98
