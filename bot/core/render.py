"""Turn a Report into scan JSON, terminal text, Markdown, SARIF and check-run output.

Every string that comes from the repository (paths, targets, versions, parser
messages) is treated as hostile: Markdown output puts it in code spans or
escapes it, terminal output escapes control characters, and every length that
GitHub limits is clipped here.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypedDict
from urllib.parse import quote

from bot.core.findings import Finding, Report, Rule, Severity, Verdict
from bot.core.fixes import FixPlan
from bot.core.lockfile import LockedPackage, Lockfile
from bot.core.sources import MuslUse, Problem
from bot.core.versions import LIBC_FIXED, LIBC_YANKED_FIX, parse_version

JSON_SCHEMA_VERSION: Final = 1
SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
BLOG_URL: Final = "https://blog.rust-lang.org/2025/12/05/Updating-musl-1.2.5/"
# The project's own page is not fixed yet: callers pass it; the announcement
# explains what the tool checks.
INFORMATION_URI: Final = BLOG_URL
DEFAULT_VERSION: Final = "0.1.0"

# GitHub limits (docs/github.md 4.2): summary/text 65535 characters, annotation
# message 64 KB, annotation title 255 characters.
SUMMARY_LIMIT: Final = 65_535
MARKDOWN_LIMIT: Final = 60_000
ANNOTATION_MESSAGE_BYTES: Final = 65_535
TITLE_LIMIT: Final = 255
ANNOTATION_LIBCS: Final = 10  # old libc versions named per musl-use notice
ANNOTATION_TARGETS: Final = 10  # resolved targets named per musl-use notice
TABLE_ROWS: Final = 30
TEXT_USES: Final = 20
FIELD_CHARS: Final = 200  # longest repository string shown in Markdown

_VERDICT_WORDS: Final = {
    Verdict.AT_RISK: "at risk",
    Verdict.OLD_LIBC: "old libc, no musl use found",
    Verdict.MUSL_LIBC_OK: "musl used, libc ok",
    Verdict.CLEAN: "clean",
}

_SARIF_LEVEL: Final = {
    Severity.FAILURE: "error",
    Severity.WARNING: "warning",
    Severity.NOTICE: "note",
}


@dataclass(frozen=True, slots=True)
class _RuleInfo:
    short: str
    full: str
    help: str
    severity: Severity


_RULES: Final = {
    Rule.LIBC_LFS64: _RuleInfo(
        "libc will not link on musl 1.2.5",
        "The locked libc crate (<= 0.2.144) binds LFS64 symbols such as open64 "
        "that musl 1.2.4 removed, a locked crate calls them, and the project "
        "builds for musl: Rust 1.93 (2026-01-22) bundles musl 1.2.5, so the "
        "link fails with undefined references.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.FAILURE,
    ),
    Rule.LIBC_YANKED: _RuleInfo(
        "libc 0.2.145 is yanked",
        "libc 0.2.145 removed the LFS64 symbols but declared open64 with the "
        "wrong arity, so 2-argument callers such as old getrandom fail to "
        "compile (E0061). It was yanked; 0.2.146 is the first good release.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.FAILURE,
    ),
    Rule.LIBC_MAY_BREAK: _RuleInfo(
        "libc may not link on musl 1.2.5",
        "The locked libc crate (<= 0.2.144) binds LFS64 symbols that musl "
        "1.2.4 removed and the project builds for musl, but no known caller is "
        "locked or the pinned toolchain still bundles an older musl. Rust 1.93 "
        "(2026-01-22) bundles musl 1.2.5.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.WARNING,
    ),
    Rule.OLD_STD: _RuleInfo(
        "Rust std older than 1.72 on a system musl",
        "Rust 1.71 and older reference LFS64 symbols from std itself; linking "
        "against a system musl 1.2.4 or newer fails whatever the libc crate.",
        "Use Rust 1.72 or newer.",
        Severity.WARNING,
    ),
    Rule.NOT_AUTOFIXABLE: _RuleInfo(
        "libc cannot be updated automatically",
        "libc comes from git, a path or a [patch], is pinned, vendored or "
        "locked more than once, so musl-check cannot edit the lockfile itself.",
        "Follow the finding's advice, then run `cargo update -p libc`.",
        Severity.WARNING,
    ),
    Rule.LATENT: _RuleInfo(
        "old libc, no musl build found",
        "The locked libc crate predates 0.2.146; nothing builds for musl today, "
        "but a future *-linux-musl build with Rust 1.93 (2026-01-22) or newer, "
        "which bundles musl 1.2.5, will not link.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.NOTICE,
    ),
    Rule.C_CODE: _RuleInfo(
        "bundled C code in a musl build",
        "A -sys crate compiles bundled C code; objects built against glibc "
        "headers can reference open64 and friends whatever the libc crate.",
        "Build the C code with a musl C compiler (for example musl-gcc).",
        Severity.NOTICE,
    ),
    Rule.MUSL_USE: _RuleInfo(
        "musl build",
        "This line of configuration makes the project build for a musl target.",
        "No action needed on this line; see the libc finding.",
        Severity.NOTICE,
    ),
    Rule.UNREADABLE: _RuleInfo(
        "file could not be read",
        "A configuration file or lockfile is malformed, binary or too large, "
        "so musl-check could not analyse it.",
        "Fix the file's syntax, or ignore its path in .github/musl-check.yml.",
        Severity.WARNING,
    ),
}


class Conclusion(StrEnum):
    """Check-run conclusions musl-check uses (never `action_required`)."""

    SUCCESS = "success"
    NEUTRAL = "neutral"
    FAILURE = "failure"


class Annotation(TypedDict):
    """One check-run annotation, as the Checks API takes it."""

    path: str
    start_line: int
    end_line: int
    annotation_level: str
    message: str
    title: str


@dataclass(frozen=True, slots=True)
class CheckRunOutput:
    """Conclusion and `output` of a check run; the GitHub layer chunks annotations."""

    conclusion: Conclusion
    title: str
    summary: str
    annotations: tuple[Annotation, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-ready view (conclusion plus the API's output fields)."""
        return {
            "conclusion": self.conclusion.value,
            "title": self.title,
            "summary": self.summary,
            "annotations": [dict(a) for a in self.annotations],
        }


# ---------------------------------------------------------------------------
# Shared helpers


def verdict_words(verdict: Verdict) -> str:
    """Return the verdict in words ("at risk", "musl used, libc ok", ...)."""
    return _VERDICT_WORDS[verdict]


def _escape_char(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def _sanitize(text: str) -> str:
    """Return `text` with control, format and line-separator characters escaped."""
    if text.isprintable():
        return text
    return "".join(
        _escape_char(c)
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        else c
        for c in text
    )


def _clip(text: str, limit: int = FIELD_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _root(report: Report) -> Lockfile | None:
    for lock in report.lockfiles:
        if lock.path == report.root_lockfile:
            return lock
    return None


def _is_old(pkg: LockedPackage) -> bool:
    version = parse_version(pkg.version)
    return version is not None and version < LIBC_FIXED


def _old_libcs(report: Report) -> list[LockedPackage]:
    root = _root(report)
    return [p for p in root.named("libc") if _is_old(p)] if root else []


def _has_failure(report: Report) -> bool:
    return any(f.severity is Severity.FAILURE for f in report.findings)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _verdict_sentence(report: Report, code: Callable[[str], str]) -> str:
    """Return one sentence saying what will happen to the musl build, and why."""
    root = _root(report)
    lock = code(root.path) if root else "the root Cargo.lock"
    old = _old_libcs(report)
    old_text = " and ".join(code(p.version) for p in old) or "an old release"
    uses = _plural(len(report.musl_uses), "line")
    if report.verdict is Verdict.AT_RISK:
        verb = "will" if _has_failure(report) else "may"
        # 0.2.145 fails to compile (E0061) rather than to link.
        step = (
            "build"
            if any(f.rule is Rule.LIBC_YANKED for f in report.findings)
            else "link"
        )
        return (
            f"This repository builds for musl ({uses} below) and {lock} locks "
            f"libc {old_text}, older than 0.2.146, so its musl build {verb} fail "
            f"to {step}: Rust 1.93 (2026-01-22) bundles musl 1.2.5, which no longer "
            "has the LFS64 symbols (open64, fstat64, ...) that old libc binds."
        )
    if report.verdict is Verdict.OLD_LIBC:
        return (
            f"{lock} locks libc {old_text}, older than 0.2.146, but nothing here "
            "builds for musl, so nothing breaks today; update libc before you "
            "build for a *-linux-musl target with Rust 1.93 (2026-01-22) or "
            "newer, which bundles musl 1.2.5."
        )
    if report.verdict is Verdict.MUSL_LIBC_OK:
        libcs = root.named("libc") if root else ()
        if root is None:
            why = "commits no Cargo.lock, which lets libc resolve fresh to a fix"
        elif libcs:
            versions = " and ".join(code(p.version) for p in libcs)
            why = f"{lock} locks libc {versions}, which has the fix (0.2.146+)"
        else:
            why = f"{lock} locks no libc"
        return (
            f"This repository builds for musl ({uses}) and {why}, so the move to "
            "musl 1.2.5 (bundled since Rust 1.93, 2026-01-22) does not break it."
        )
    why = (
        "no Cargo.lock is committed"
        if root is None
        else f"{lock} locks no libc older than 0.2.146"
    )
    return f"No musl build was found and {why}, so there is nothing to do."


def _libc_status(pkg: LockedPackage) -> str:
    version = parse_version(pkg.version)
    if version is None:
        return "unrecognised version"
    if version == LIBC_YANKED_FIX:
        return "yanked (0.2.145): update"
    if version < LIBC_FIXED:
        return "too old for musl 1.2.4+: update"
    return "ok"


def _title(report: Report) -> str:
    old = _old_libcs(report)
    versions = ", ".join(_sanitize(p.version) for p in old) or "old"
    if report.verdict is Verdict.AT_RISK:
        verb = "will not" if _has_failure(report) else "may not"
        return _clip(f"At risk: libc {versions} {verb} link on musl 1.2.5", TITLE_LIMIT)
    if report.verdict is Verdict.OLD_LIBC:
        return _clip(f"Old libc {versions}, no musl use found", TITLE_LIMIT)
    if report.verdict is Verdict.MUSL_LIBC_OK:
        root = _root(report)
        if root is None:
            return "musl used, libc ok: no Cargo.lock, libc resolves fresh"
        libcs = ", ".join(_sanitize(p.version) for p in root.named("libc"))
        text = f"musl used, libc {libcs} ok" if libcs else "musl used, libc ok"
        return _clip(text, TITLE_LIMIT)
    return "Clean: no musl build, no old libc"


# ---------------------------------------------------------------------------
# JSON


def _lockfile_json(lock: Lockfile) -> dict[str, object]:
    return {
        "path": lock.path,
        "format_version": lock.format_version,
        "libc": [
            {"version": p.version, "line": p.line, "source": p.source_kind.value}
            for p in lock.named("libc")
        ],
    }


def _use_json(use: MuslUse) -> dict[str, object]:
    return {
        "path": use.path,
        "line": use.line,
        "target": use.target,
        "implicit": use.implicit,
        "resolves_to": list(use.resolves_to) if use.resolves_to else [use.target],
        "kind": use.kind.value,
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


# ---------------------------------------------------------------------------
# Terminal text

_ANSI: Final = {
    "bold": "\x1b[1m",
    "red": "\x1b[31m",
    "yellow": "\x1b[33m",
    "green": "\x1b[32m",
    "cyan": "\x1b[36m",
    "dim": "\x1b[2m",
}
_RESET: Final = "\x1b[0m"
_VERDICT_COLOUR: Final = {
    Verdict.AT_RISK: "red",
    Verdict.OLD_LIBC: "yellow",
    Verdict.MUSL_LIBC_OK: "green",
    Verdict.CLEAN: "green",
}
_SEVERITY_COLOUR: Final = {
    Severity.FAILURE: "red",
    Severity.WARNING: "yellow",
    Severity.NOTICE: "cyan",
}


def render_text(report: Report, *, color: bool) -> str:
    """Return terminal output: verdict, findings with fixes, then the musl uses."""

    def paint(text: str, *styles: str) -> str:
        if not color:
            return text
        return "".join(_ANSI[s] for s in styles) + text + _RESET

    verdict = paint(
        verdict_words(report.verdict), "bold", _VERDICT_COLOUR[report.verdict]
    )
    lines = [f"musl-check: {verdict}: {_verdict_sentence(report, _sanitize)}"]
    for finding in report.findings:
        severity = paint(finding.severity.value, _SEVERITY_COLOUR[finding.severity])
        lines.append(
            f"{_sanitize(finding.path)}:{finding.line}: {severity}: "
            f"{_sanitize(finding.message)} [{finding.rule.value}]"
        )
        if finding.fix:
            lines.append(f"    fix: {_sanitize(finding.fix)}")
    for plan in report.fixes:
        lines.append(f"{_sanitize(plan.path)}: fix: {_sanitize(plan.command)}")
    for problem in _extra_problems(report):
        lines.append(
            f"{_sanitize(problem.path)}:{problem.line}: "
            f"{paint('unreadable', 'yellow')}: {_sanitize(problem.message)}"
        )
    if report.musl_uses:
        lines.append(f"musl builds ({len(report.musl_uses)}):")
        for use in report.musl_uses[:TEXT_USES]:
            lines.append(
                f"  {_sanitize(use.path)}:{use.line}: {_sanitize(use.target)} "
                + paint(f"({use.kind.value})", "dim")
            )
        if len(report.musl_uses) > TEXT_USES:
            lines.append(f"  ... and {len(report.musl_uses) - TEXT_USES} more")
    return "\n".join(lines) + "\n"


def _extra_problems(report: Report) -> list[Problem]:
    """Return the problems no `unreadable` finding already reports."""
    reported = {(f.path, f.line) for f in report.findings if f.rule is Rule.UNREADABLE}
    return [p for p in report.problems if (p.path, p.line) not in reported]


# ---------------------------------------------------------------------------
# Markdown

_MD_SPECIAL: Final = re.compile(r"[\\`*_\[\]|~]")
_AUTOLINK: Final = re.compile(r"(@|#)(?=[0-9A-Za-z])|(?<=:)//|(?<=www)\.", re.I)
_CODE_SPAN: Final = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_ZWSP: Final = "&#8203;"


def _md_text(text: str) -> str:
    """Escape `text` for Markdown: no markup, no HTML, no mentions or autolinks."""
    text = html.escape(_sanitize(text), quote=False)
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    # A zero-width space stops @mentions, #references and autolinks.
    return _AUTOLINK.sub(lambda m: m.group(0)[0] + _ZWSP + m.group(0)[1:], text)


def _md_code(text: str, *, table: bool = False) -> str:
    """Return `text` as an inline code span (literal, whatever it contains)."""
    text = _clip(_sanitize(text))
    if not text:
        return "(empty)"
    if table:
        # GFM splits cells before parsing code spans; `\|` keeps a pipe in the
        # cell, and a backslash must not pair with that escape.
        text = text.replace("\\", "\\\u200b").replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_rich(text: str) -> str:
    """Escape our own message text, keeping its `code spans` as code."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(_md_text(text[pos : match.start()]))
        out.append(_md_code(match.group(2)))
        pos = match.end()
    out.append(_md_text(text[pos:]))
    return "".join(out)


def _where(path: str, line: int, *, table: bool = False) -> str:
    return _md_code(f"{path}:{line}", table=table)


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
    body = [_sanitize(line) for line in lines]
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
            status = "could not read: " + _md_text(_clip(lock.error.message))
            rows.append([_where(lock.path, lock.error.line, table=True), "-", status])
            continue
        libcs = lock.named("libc")
        if not libcs:
            rows.append([_md_code(lock.path, table=True), "-", "no libc" + nested])
        for pkg in libcs:
            rows.append(
                [
                    _where(lock.path, pkg.line, table=True),
                    _md_code(pkg.version, table=True),
                    _libc_status(pkg) + nested,
                ]
            )
    return rows


def _use_rows(report: Report) -> list[list[str]]:
    rows: list[list[str]] = []
    for use in report.musl_uses:
        target = _md_code(use.target, table=True)
        if use.implicit and use.resolves_to:
            triples = ", ".join(_md_code(t, table=True) for t in use.resolves_to)
            target += f" → {triples}"
        rows.append([_where(use.path, use.line, table=True), target, use.kind.value])
    return rows


def _findings_block(findings: Sequence[Finding]) -> str:
    lines = ["#### Findings", ""]
    for finding in findings[:TABLE_ROWS]:
        lines.append(
            f"- **{finding.severity.value}** {_where(finding.path, finding.line)} "
            f"({finding.rule.value}): {_md_rich(_clip(finding.message, 2000))}"
        )
        if finding.fix:
            lines.append(f"  Fix: {_md_rich(_clip(finding.fix, 1000))}")
    if len(findings) > TABLE_ROWS:
        lines.append(f"- ... and {len(findings) - TABLE_ROWS} more.")
    # Trailing spaces would make hard line breaks.
    return "\n".join(line.rstrip() for line in lines)


def _fix_block(plan: FixPlan) -> str:
    parts = [f"#### Fix {_md_code(plan.path)}", "", _fence([plan.command], "sh")]
    if plan.edits:
        diff: list[str] = []
        for edit in plan.edits:
            diff += [f"@@ line {edit.line} @@", f"-{edit.old}", f"+{edit.new}"]
        parts += [
            "",
            "or change these lines:",
            "",
            _fence(diff, "diff"),
            "",
            "Comment `/musl-check fix` on the pull request, or press **Fix libc** "
            "on the musl-check check run, and musl-check commits this change.",
        ]
    elif plan.reason:
        parts += [
            "",
            "musl-check cannot make this edit itself: " + _md_rich(plan.reason),
        ]
    return "\n".join(parts)


def _problems_block(problems: Sequence[Problem]) -> str:
    lines = ["#### Could not read", ""]
    for problem in problems[:TABLE_ROWS]:
        lines.append(
            f"- {_where(problem.path, problem.line)}: "
            f"{_md_text(_clip(problem.message, 1000))}"
        )
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


def render_markdown(report: Report) -> str:
    """Return the Markdown summary (check-run summary and pull-request comment)."""
    blocks = [
        f"### musl-check: {verdict_words(report.verdict)}",
        _verdict_sentence(report, _md_code),
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
    blocks += [_fix_block(plan) for plan in report.fixes]
    problems = _extra_problems(report)
    if problems:
        blocks.append(_problems_block(problems))
    blocks.append(
        f"<sub>Why: [musl 1.2.5 in Rust 1.93]({BLOG_URL}) · "
        "comment `/musl-check help` for commands</sub>"
    )
    return _fit(blocks, MARKDOWN_LIMIT)


def render_suggestion(new_lines: Sequence[str]) -> str:
    """Return a ```suggestion block replacing the commented lines with `new_lines`."""
    longest = max(
        (len(run) for line in new_lines for run in re.findall(r"`+", line)), default=0
    )
    fence = "`" * max(3, longest + 1)
    return "\n".join([fence + "suggestion", *new_lines, fence]) + "\n"


# ---------------------------------------------------------------------------
# SARIF


def _fingerprint(finding: Finding) -> str:
    key = "\0".join((finding.rule.value, finding.path, finding.message))
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def render_sarif(
    report: Report,
    *,
    version: str = DEFAULT_VERSION,
    information_uri: str = INFORMATION_URI,
) -> str:
    """Return a SARIF 2.1.0 log of the findings that GitHub code scanning accepts."""
    used = list(dict.fromkeys(f.rule for f in report.findings))
    index = {rule: i for i, rule in enumerate(used)}
    rules = [
        {
            "id": rule.value,
            "name": "".join(w.capitalize() for w in rule.value.split("-")),
            "shortDescription": {"text": _RULES[rule].short},
            "fullDescription": {"text": _RULES[rule].full},
            "help": {"text": _RULES[rule].help, "markdown": _RULES[rule].help},
            "helpUri": BLOG_URL,
            "defaultConfiguration": {"level": _SARIF_LEVEL[_RULES[rule].severity]},
        }
        for rule in used
    ]
    results = [
        {
            "ruleId": f.rule.value,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {
                "text": f.message + (f"\nFix: {f.fix}" if f.fix else ""),
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {
                            "uri": quote(f.path.lstrip("/"), safe="/"),
                            "uriBaseId": "%SRCROOT%",
                        },
                        "region": {"startLine": max(1, f.line)},
                    }
                }
            ],
            "partialFingerprints": {"muslCheckFinding/v1": _fingerprint(f)},
        }
        for f in report.findings
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "musl-check",
                        "informationUri": information_uri,
                        "version": version,
                        "semanticVersion": version,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------
# Check run


def _clip_bytes(text: str, limit: int) -> str:
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", "ignore") + "…"


def _annotation(
    path: str, line: int, level: str, message: str, title: str
) -> Annotation:
    line = max(1, line)
    return Annotation(
        path=path,
        start_line=line,
        end_line=line,
        annotation_level=level,
        message=_clip_bytes(message, ANNOTATION_MESSAGE_BYTES),
        title=_clip(_sanitize(title), TITLE_LIMIT),
    )


def _more_list(items: Sequence[str], limit: int) -> str:
    """Return the first `limit` items joined by commas, then "and N more"."""
    shown = ", ".join(items[:limit])
    more = len(items) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _use_annotations(report: Report) -> list[Annotation]:
    """Return one notice per musl-use line (several targets on a line join)."""
    covered = {(f.path, f.line) for f in report.findings if f.rule is Rule.MUSL_USE}
    targets: dict[tuple[str, int], dict[str, None]] = {}  # ordered sets
    for use in report.musl_uses:
        key = (use.path, use.line)
        if key not in covered:
            found = targets.setdefault(key, {})
            for triple in use.resolves_to or (use.target,):
                found[triple] = None
    old = _old_libcs(report)
    root = _root(report)
    tail = ""
    if report.verdict is Verdict.AT_RISK and old and root is not None:
        tail = (
            f" With libc {_more_list([p.version for p in old], ANNOTATION_LIBCS)} "
            f"locked in {root.path}, this build will fail to link: Rust 1.93 "
            "(2026-01-22) bundles musl 1.2.5, which has no LFS64 symbols "
            "(open64, ...)."
        )
    out: list[Annotation] = []
    for (path, line), triples in targets.items():
        shown = _more_list(list(triples), ANNOTATION_TARGETS)
        message = f"This line builds {shown} for musl." + tail
        out.append(_annotation(path, line, "notice", message, "musl build"))
    return out


def check_run_output(
    report: Report, *, failure_conclusion: str = "failure"
) -> CheckRunOutput:
    """Return the check run's conclusion, title, summary and every annotation."""
    if failure_conclusion not in (Conclusion.FAILURE, Conclusion.NEUTRAL):
        raise ValueError(
            f"failure_conclusion must be failure or neutral, not {failure_conclusion!r}"
        )
    on_failure = Conclusion(failure_conclusion)
    severities = {f.severity for f in report.findings}
    if Severity.FAILURE in severities:
        conclusion: Conclusion = on_failure
    elif Severity.WARNING in severities:
        conclusion = Conclusion.NEUTRAL
    else:
        conclusion = Conclusion.SUCCESS
    annotations = [
        _annotation(
            f.path,
            f.line,
            f.severity.value,
            f.message + (f"\n\nFix: {f.fix}" if f.fix else ""),
            f"{f.rule.value}: {_RULES[f.rule].short}",
        )
        for f in report.findings
    ]
    annotations += [
        _annotation(p.path, p.line, "warning", p.message, "file could not be read")
        for p in _extra_problems(report)
    ]
    annotations += _use_annotations(report)
    return CheckRunOutput(
        conclusion=conclusion,
        title=_title(report),
        summary=limit_summary(render_markdown(report)),
        annotations=tuple(annotations),
    )


def limit_summary(summary: str) -> str:
    """Return `summary` cut to the 65535-character limit, with a note if cut."""
    if len(summary) <= SUMMARY_LIMIT:
        return summary
    note = "\n\n_Summary cut to GitHub's 65535-character limit._\n"
    return summary[: SUMMARY_LIMIT - len(note)] + note


def could_not_analyse_output(reason: str) -> CheckRunOutput:
    """Return a neutral "could not analyse" check run saying why."""
    summary = (
        "### musl-check: could not analyse\n\n"
        f"musl-check could not analyse this commit: {_md_text(_clip(reason, 5000))}\n\n"
        "Re-run the check once the cause is fixed; nothing was concluded about "
        "the musl build.\n"
    )
    return CheckRunOutput(
        conclusion=Conclusion.NEUTRAL,
        title="could not analyse",
        summary=limit_summary(summary),
    )
