"""Markdown: the check-run summary and the pull-request summary comment."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Sequence

from bot.core.findings import Finding, Report
from bot.core.fixes import FixPlan
from bot.core.lockfile import LockedPackage
from bot.core.render.shared import (
    BLOG_URL,
    MARKDOWN_LIMIT,
    TABLE_ROWS,
    clip,
    escape_markdown,
    escape_message,
    extra_problems,
    sanitize,
    verdict_sentence,
    verdict_words,
)
from bot.core.sources import Problem
from bot.core.versions import LIBC_FIXED, LIBC_YANKED_FIX, parse_version


def _code(text: str) -> str:
    return escape_markdown(text, code=True)


def _where(path: str, line: int, *, table: bool = False) -> str:
    return escape_markdown(f"{path}:{line}", code=True, table=table)


def _libc_status(pkg: LockedPackage) -> str:
    version = parse_version(pkg.version)
    if version is None:
        return "unrecognised version"
    if version == LIBC_YANKED_FIX:
        return "yanked (0.2.145): update"
    if version < LIBC_FIXED:
        return "too old for musl 1.2.4+: update"
    return "ok"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows[:TABLE_ROWS]]
    if len(rows) > TABLE_ROWS:
        lines.append(f"\n... and {len(rows) - TABLE_ROWS} more.")
    return "\n".join(lines)


def _fence(lines: Iterable[str], info: str = "") -> str:
    body = [sanitize(line) for line in lines]
    longest = max(
        (len(run) for line in body for run in re.findall(r"`{3,}", line)), default=0
    )
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence + info, *body, fence])


def _lockfile_rows(report: Report) -> list[list[str]]:
    rows: list[list[str]] = []
    for lock in report.lockfiles:
        nested = "" if lock.path == report.root_lockfile else " (nested lockfile)"
        if lock.error is not None:
            status = "could not read: " + escape_markdown(clip(lock.error.message))
            rows.append([_where(lock.path, lock.error.line, table=True), "-", status])
            continue
        libcs = lock.named("libc")
        if not libcs:
            rows.append(
                [
                    escape_markdown(lock.path, code=True, table=True),
                    "-",
                    "no libc" + nested,
                ]
            )
        for pkg in libcs:
            rows.append(
                [
                    _where(lock.path, pkg.line, table=True),
                    escape_markdown(pkg.version, code=True, table=True),
                    _libc_status(pkg) + nested,
                ]
            )
    return rows


def _use_rows(report: Report) -> list[list[str]]:
    rows: list[list[str]] = []
    for use in report.musl_uses:
        target = escape_markdown(use.target, code=True, table=True)
        if use.implicit and use.resolves_to:
            triples = ", ".join(
                escape_markdown(t, code=True, table=True) for t in use.resolves_to
            )
            target += f" → {triples}"
        rows.append([_where(use.path, use.line, table=True), target, use.kind.value])
    return rows


def _findings_block(findings: Sequence[Finding]) -> str:
    lines = ["#### Findings", ""]
    for finding in findings[:TABLE_ROWS]:
        lines.append(
            f"- **{finding.severity.value}** {_where(finding.path, finding.line)} "
            f"({finding.rule.value}): {escape_message(clip(finding.message, 2000))}"
        )
        if finding.fix:
            lines.append(f"  Fix: {escape_message(clip(finding.fix, 1000))}")
    if len(findings) > TABLE_ROWS:
        lines.append(f"- ... and {len(findings) - TABLE_ROWS} more.")
    # Trailing spaces would make hard line breaks.
    return "\n".join(line.rstrip() for line in lines)


def _fix_block(plan: FixPlan, commands: bool) -> str:
    parts = [
        f"#### Fix {escape_markdown(plan.path, code=True)}",
        "",
        _fence([plan.command], "sh"),
    ]
    if plan.edits:
        diff: list[str] = []
        for edit in plan.edits:
            diff += [f"@@ line {edit.line} @@", f"-{edit.old}", f"+{edit.new}"]
        parts += [
            "",
            "or change these lines:",
            "",
            _fence(diff, "diff"),
        ]
        if commands:
            parts += [
                "",
                "Comment `/musl-check fix` on the pull request, or press **Fix "
                "libc** on the musl-check check run, and musl-check commits this "
                "change.",
            ]
    elif plan.reason:
        parts += [
            "",
            "musl-check cannot make this edit itself: " + escape_message(plan.reason),
        ]
    return "\n".join(parts)


def _problems_block(problems: Sequence[Problem]) -> str:
    lines = ["#### Could not read", ""]
    for problem in problems[:TABLE_ROWS]:
        # A note on no file (the tree or file cap) has no place to point at.
        where = f"{_where(problem.path, problem.line)}: " if problem.path else ""
        lines.append(f"- {where}{escape_markdown(clip(problem.message, 1000))}")
    if len(problems) > TABLE_ROWS:
        lines.append(f"- ... and {len(problems) - TABLE_ROWS} more.")
    return "\n".join(line.rstrip() for line in lines)


def _fit(blocks: Sequence[str], limit: int) -> str:
    """Join whole blocks while they fit in `limit` characters, then say so."""
    full = "\n\n".join(blocks) + "\n"
    if len(full) <= limit:
        return full
    note = (
        f"\n\n_This report was cut to fit GitHub's size limit ({len(full)} "
        "characters in full); run `musl-check scan` on a checkout for all of it._\n"
    )
    totals = itertools.accumulate(len(block) + 2 for block in blocks)
    count = sum(1 for total in totals if total + len(note) <= limit)
    return "\n\n".join(blocks[:count]) + note


def render_markdown(report: Report, *, commands: bool = True) -> str:
    """Return the Markdown summary (check-run summary and pull-request comment).

    `commands` names the App's pull-request commands and Fix button; a report
    written to a terminal or a file (`musl-check scan`) has neither, so it
    passes False.
    """
    blocks = [
        f"### musl-check: {verdict_words(report.verdict)}",
        verdict_sentence(report, _code),
    ]
    if report.lockfiles:
        blocks.append(
            "#### Lockfiles\n\n"
            + _table(["Where", "libc", "Status"], _lockfile_rows(report))
        )
    if report.musl_uses:
        blocks.append(
            "#### musl builds\n\n"
            + _table(["Where", "Target", "Kind"], _use_rows(report))
        )
    if report.findings:
        blocks.append(_findings_block(report.findings))
    blocks += [_fix_block(plan, commands) for plan in report.fixes]
    problems = extra_problems(report)
    if problems:
        blocks.append(_problems_block(problems))
    why = f"<sub>Why: [musl 1.2.5 in Rust 1.93]({BLOG_URL})"
    blocks.append(
        why + " · comment `/musl-check help` for commands</sub>"
        if commands
        else why + "</sub>"
    )
    return _fit(blocks, MARKDOWN_LIMIT)
