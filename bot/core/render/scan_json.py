"""Scan JSON (`musl-check scan --format json`), the contract in docs/architecture.md."""

from __future__ import annotations

import json
from typing import Final

from bot.core.findings import Finding, Report
from bot.core.fixes import FixPlan
from bot.core.lockfile import Lockfile
from bot.core.sources import MuslUse

JSON_SCHEMA_VERSION: Final = 1


def _lockfile_json(lock: Lockfile) -> dict[str, object]:
    return {
        "path": lock.path,
        "format_version": lock.format_version,
        "libc": [
            {"version": p.version, "line": p.line, "source": p.source_kind.value}
            for p in lock.named("libc")
        ],
        # Added keys: why the lockfile could not be read whole (None: it was).
        "error": (
            None
            if lock.error is None
            else {"line": lock.error.line, "message": lock.error.message}
        ),
    }


def _use_json(use: MuslUse) -> dict[str, object]:
    return {
        "path": use.path,
        "line": use.line,
        "target": use.target,
        "implicit": use.implicit,
        "resolves_to": list(use.resolves_to) if use.resolves_to else [use.target],
        "kind": use.kind.value,
        # Added key: the Cargo.lock this build uses (None: none is committed,
        # libc resolves fresh).
        "lockfile": use.lockfile,
    }


def _finding_json(finding: Finding) -> dict[str, object]:
    return {
        "rule": finding.rule.value,
        "severity": finding.severity.value,
        "path": finding.path,
        "line": finding.line,
        "message": finding.message,
        "fix": finding.fix,
    }


def _fix_json(plan: FixPlan) -> dict[str, object]:
    return {
        "path": plan.path,
        "old_version": plan.old_version,
        "new_version": plan.new_version,
        "command": plan.command,
        "edits": [{"line": e.line, "old": e.old, "new": e.new} for e in plan.edits],
        "reason": plan.reason,
    }


def render_json(report: Report) -> str:
    """Return the scan JSON (docs/architecture.md), indent 2, trailing newline."""
    data: dict[str, object] = {
        "schema": JSON_SCHEMA_VERSION,
        "verdict": report.verdict.value,
        "lockfiles": [_lockfile_json(lock) for lock in report.lockfiles],
        "musl_uses": [_use_json(use) for use in report.musl_uses],
        "findings": [_finding_json(f) for f in report.findings],
        # Extra keys (not part of the stable contract, may grow).
        "root_lockfile": report.root_lockfile,
        "fixes": [_fix_json(plan) for plan in report.fixes],
        "hints": [
            {"path": h.path, "line": h.line, "kind": h.kind.value, "value": h.value}
            for h in report.hints
        ],
        "problems": [
            {"path": p.path, "line": p.line, "message": p.message}
            for p in report.problems
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
