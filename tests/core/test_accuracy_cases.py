"""Corpus-style cases for the shapes of tests/fixtures/accuracy (see its README).

Nested lockfiles that a build enters, unreadable lockfiles, and the build and
non-build shapes found in real repositories, scanned end to end with the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from bot.cli import main

CASES_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "accuracy"
CASES = sorted(p for p in CASES_DIR.iterdir() if (p / "expected.json").is_file())
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "bot" / "schema" / "scan.json").read_text()
)
WORDS = {
    "at-risk": "at risk",
    "old-libc": "old libc, no musl use found",
    "musl-libc-ok": "musl used, libc ok",
    "clean": "clean",
    "could-not-analyse": "could not analyse",
}
# The rules that judge a lockfile or say it could not be read.
LOCKFILE_RULES = frozenset(
    {"libc-lfs64", "libc-yanked", "libc-may-break", "libc-latent", "unreadable"}
)


def scan_json(case: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    main(["scan", str(case), "--format", "json", "--fail-on", "never", "--offline"])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_cases_are_present() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Path, capsys: pytest.CaptureFixture[str]) -> None:
    expected = json.loads((case / "expected.json").read_text())
    report = scan_json(case, capsys)
    jsonschema.Draft202012Validator(SCHEMA).validate(report)
    assert WORDS[report["verdict"]] == expected["verdict"]
    found = {(u["path"], u["line"]): u for u in report["musl_uses"]}
    for use in expected["musl_uses"]:
        got = found.get((use["path"], use["line"]))
        assert got is not None, f"missed {use}"
        assert got["lockfile"] == use["lockfile"], use
    findings = {
        (f["rule"], f["path"], f["line"])
        for f in report["findings"]
        if f["rule"] in LOCKFILE_RULES
    }
    assert findings == {(f["rule"], f["path"], f["line"]) for f in expected["findings"]}
    reported = set(found) | {(f["path"], f["line"]) for f in report["findings"]}
    traps = {(t["path"], t["line"]) for t in expected["traps"]}
    assert not reported & traps
