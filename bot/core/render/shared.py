"""What every output format shares: limits, rule texts, verdict sentences, escaping.

Every string that comes from the repository or a comment (paths, targets,
versions, parser messages, config keys, command words) is hostile: Markdown
output passes it through `escape_markdown` (a code span or escaped plain text),
terminal output through `sanitize`, and every length GitHub limits is clipped.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from bot.core.findings import Report, Rule, Severity, Verdict
from bot.core.lockfile import LockedPackage, Lockfile
from bot.core.sources import Problem
from bot.core.versions import LIBC_FIXED, parse_version

BLOG_URL: Final = "https://blog.rust-lang.org/2025/12/05/Updating-musl-1.2.5/"

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
    Verdict.COULD_NOT_ANALYSE: "could not analyse",
}


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """What a rule means, in the words SARIF and annotations show."""

    short: str
    full: str
    help: str
    severity: Severity


RULES: Final = {
    Rule.LIBC_LFS64: RuleInfo(
        "libc will not link on musl 1.2.5",
        "The locked libc crate (<= 0.2.144) binds LFS64 symbols such as open64 "
        "that musl 1.2.4 removed, a locked crate calls them, and the project "
        "builds for musl: Rust 1.93 (2026-01-22) bundles musl 1.2.5, so the "
        "link fails with undefined references.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.FAILURE,
    ),
    Rule.LIBC_YANKED: RuleInfo(
        "libc 0.2.145 is yanked",
        "libc 0.2.145 removed the LFS64 symbols but declared open64 with the "
        "wrong arity, so 2-argument callers such as old getrandom fail to "
        "compile (E0061). It was yanked; 0.2.146 is the first good release.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.FAILURE,
    ),
    Rule.LIBC_MAY_BREAK: RuleInfo(
        "libc may not link on musl 1.2.5",
        "The locked libc crate (<= 0.2.144) binds LFS64 symbols that musl "
        "1.2.4 removed and the project builds for musl, but no known caller is "
        "locked or the pinned toolchain still bundles an older musl. Rust 1.93 "
        "(2026-01-22) bundles musl 1.2.5.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.WARNING,
    ),
    Rule.OLD_STD: RuleInfo(
        "Rust std older than 1.72 on a system musl",
        "Rust 1.71 and older reference LFS64 symbols from std itself; linking "
        "against a system musl 1.2.4 or newer fails whatever the libc crate.",
        "Use Rust 1.72 or newer.",
        Severity.WARNING,
    ),
    Rule.NOT_AUTOFIXABLE: RuleInfo(
        "libc cannot be updated automatically",
        "libc comes from git, a path or a [patch], is pinned, vendored or "
        "locked more than once, so musl-check cannot edit the lockfile itself.",
        "Follow the finding's advice, then run `cargo update -p libc`.",
        Severity.WARNING,
    ),
    Rule.LATENT: RuleInfo(
        "old libc, no musl build found",
        "The locked libc crate predates 0.2.146; nothing builds for musl today, "
        "but a future *-linux-musl build with Rust 1.93 (2026-01-22) or newer, "
        "which bundles musl 1.2.5, will not link.",
        "Update libc to 0.2.146 or newer: `cargo update -p libc`.",
        Severity.NOTICE,
    ),
    Rule.C_CODE: RuleInfo(
        "bundled C code in a musl build",
        "A -sys crate compiles bundled C code; objects built against glibc "
        "headers can reference open64 and friends whatever the libc crate.",
        "Build the C code with a musl C compiler (for example musl-gcc).",
        Severity.NOTICE,
    ),
    Rule.MUSL_USE: RuleInfo(
        "musl build",
        "This line of configuration makes the project build for a musl target.",
        "No action needed on this line; see the libc finding.",
        Severity.NOTICE,
    ),
    Rule.UNREADABLE: RuleInfo(
        "file could not be read",
        "A configuration file or lockfile is malformed, binary or too large, "
        "so musl-check could not analyse it.",
        "Fix the file's syntax, or ignore its path in .github/musl-check.yml.",
        Severity.WARNING,
    ),
}


def verdict_words(verdict: Verdict) -> str:
    """Return the verdict in words ("at risk", "musl used, libc ok", ...)."""
    return _VERDICT_WORDS[verdict]


def _escape_char(char: str) -> str:
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def sanitize(text: str) -> str:
    """Return `text` with control, format and line-separator characters escaped."""
    if text.isprintable():
        return text
    return "".join(
        _escape_char(c)
        if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Cs")
        else c
        for c in text
    )


def clip(text: str, limit: int = FIELD_CHARS) -> str:
    """Return `text` cut to `limit` characters, ending in an ellipsis if cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def root_lock(report: Report) -> Lockfile | None:
    """Return the root workspace's lockfile, if the report read one."""
    for lock in report.lockfiles:
        if lock.path == report.root_lockfile:
            return lock
    return None


def judged_lock(report: Report) -> Lockfile | None:
    """Return the lockfile the verdict is about.

    The first lockfile a musl use builds with that locks an old libc, else
    the first one a use builds with, else the root one.
    """
    built = {use.lockfile for use in report.musl_uses}
    locks = [lock for lock in report.lockfiles if lock.path in built]
    for lock in locks:
        if any(_is_old(p) for p in lock.named("libc")):
            return lock
    return locks[0] if locks else root_lock(report)


def unread(report: Report) -> list[str]:
    """Return what could not be read and may change the verdict, for a sentence."""
    return [
        p.path or "part of the repository tree" for p in report.problems if p.unread
    ]


def _is_old(pkg: LockedPackage) -> bool:
    version = parse_version(pkg.version)
    return version is not None and version < LIBC_FIXED


def old_libcs(report: Report) -> list[LockedPackage]:
    """Return the judged lockfile's libc entries older than the fix."""
    root = judged_lock(report)
    return [p for p in root.named("libc") if _is_old(p)] if root else []


def has_failure(report: Report) -> bool:
    """Return whether any finding is a failure."""
    return any(f.severity is Severity.FAILURE for f in report.findings)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def verdict_sentence(report: Report, code: Callable[[str], str]) -> str:
    """Return one sentence saying what will happen to the musl build, and why."""
    root = judged_lock(report)
    lock = code(root.path) if root else "the root Cargo.lock"
    old = old_libcs(report)
    old_text = " and ".join(code(p.version) for p in old) or "an old release"
    uses = _plural(len(report.musl_uses), "line")
    if report.verdict is Verdict.AT_RISK:
        verb = "will" if has_failure(report) else "may"
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
    if report.verdict is Verdict.COULD_NOT_ANALYSE:
        names = " and ".join(code(p) for p in dict.fromkeys(unread(report)))
        return (
            f"musl-check could not read {names or 'every file it needs'}, so it "
            "cannot say whether a musl build breaks on musl 1.2.5 (bundled since "
            "Rust 1.93, 2026-01-22); the warnings say why."
        )
    why = (
        "no Cargo.lock is committed"
        if root is None
        else f"{lock} locks no libc older than 0.2.146"
    )
    return f"No musl build was found and {why}, so there is nothing to do."


def extra_problems(report: Report) -> list[Problem]:
    """Return the problems no `unreadable` finding already reports."""
    reported = {(f.path, f.line) for f in report.findings if f.rule is Rule.UNREADABLE}
    return [p for p in report.problems if (p.path, p.line) not in reported]


# Markdown escaping, one function for every piece of repository or comment text.

_MD_SPECIAL: Final = re.compile(r"[\\`*_\[\]|~#]")
# Echoed text may land at the start of a line, where `-`, `+`, `=` and `1.`
# would open a list or a heading underline: a backslash keeps them plain.
_LINE_START: Final = re.compile(r"^(\d{0,9})([.)](?=[ \t]|$)|[-+=])")
# GitHub links `@name`, `#1`, `scheme://...` and `www.`: a zero-width space after
# `@`, `#`, the first `/`, or inside `www.` (before its dot) breaks each one.
_AUTOLINK: Final = re.compile(r"[@#](?=[0-9A-Za-z])|/(?=/)|(?<=www)(?=\.)", re.I)
_CODE_SPAN: Final = re.compile(r"(`+)(?!`)(.+?)(?<!`)\1(?!`)")
_ZWSP: Final = "&#8203;"


def escape_markdown(
    text: str, *, code: bool = False, table: bool = False, line_start: bool = True
) -> str:
    """Return repository or comment `text` safe to echo inside Markdown.

    With `code`, the text becomes an inline code span whose fence is longer than
    any backtick run inside it, clipped to FIELD_CHARS; `table` also keeps a
    `|` inside a GFM table cell. Without `code`, the text is escaped as plain
    text: no markup, no links or images, no HTML, no @mentions, no #123
    references and no autolinks. Either way control, zero-width and bidi
    characters are shown as escapes, and the result is one line.
    """
    if not code:
        text = html.escape(sanitize(text), quote=False)
        text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
        if line_start:  # the text may open a line (a list item, a heading)
            text = _LINE_START.sub(_escape_line_start, text)
        # A zero-width space stops @mentions, #references and autolinks.
        return _AUTOLINK.sub(lambda m: m.group(0) + _ZWSP, text)
    text = clip(sanitize(text))
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


def _escape_line_start(match: re.Match[str]) -> str:
    digits, mark = match.groups()
    if digits and mark not in ".)":  # `12-3`: no list marker
        return match.group(0)
    return f"{digits}\\{mark}"


def escape_message(text: str) -> str:
    """Escape our own message text, keeping its `code spans` as code."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(escape_markdown(text[pos : match.start()], line_start=pos == 0))
        out.append(escape_markdown(match.group(2), code=True))
        pos = match.end()
    out.append(escape_markdown(text[pos:], line_start=pos == 0))
    return "".join(out)
