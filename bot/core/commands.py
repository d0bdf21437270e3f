"""The `/musl-check` comment-command grammar.

A command is `/musl-check` at the start of a line (at most three spaces of
indent), followed by an optional word: none or `run` re-checks, `fix` commits
the lockfile fix, `help` explains; any other word asks for help and is kept
so the reply can name it. Lines inside `>` quotes, fenced code blocks
(``` or ~~~, closed by a fence at least as long, or unclosed to the end),
indented code and HTML comments are not commands, so quoting or documenting a
command never runs it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

COMMAND: Final = "/musl-check"
MAX_BODY_CHARS: Final = 65_536  # GitHub's comment size limit (docs/github.md 5.4)
MAX_COMMANDS: Final = 10
MAX_WORD_CHARS: Final = 40

_FENCE: Final = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_COMMAND_LINE: Final = re.compile(r" {0,3}/musl-check(?=[ \t]|<!--|$)", re.I)
_QUOTE: Final = re.compile(r" {0,3}>")
_BACKTICKS: Final = re.compile(r"`+")
_COMMENT_OPEN: Final = "<!--"
_COMMENT_CLOSE: Final = "-->"


class CommandKind(StrEnum):
    """What a command asks for."""

    RUN = "run"
    FIX = "fix"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Command:
    """One command; `unknown` holds an unrecognised word (kind is then HELP)."""

    kind: CommandKind
    unknown: str = ""


HELP_TEXT: Final[str] = """\
**musl-check commands** (comment on a pull request, at the start of a line):

| Command | What it does |
|---|---|
| `/musl-check` or `/musl-check run` | Check the pull request's head commit again. |
| `/musl-check fix` | Commit the `Cargo.lock` fix (libc 0.2.146 or newer) to the \
pull request's branch. Needs write access to the repository. |
| `/musl-check help` | Show this help. |

musl-check says whether this project's musl build breaks on musl 1.2.5, which \
Rust 1.93 (2026-01-22) bundles: the `libc` crate up to 0.2.144 binds LFS64 \
symbols (`open64`, ...) that musl 1.2.4 removed. Settings live in \
`.github/musl-check.yml`. Commands inside quotes or code blocks are ignored.
"""


def _word_command(word: str) -> Command:
    lowered = word.lower()
    if lowered in ("", "run"):
        return Command(CommandKind.RUN)
    if lowered == "fix":
        return Command(CommandKind.FIX)
    if lowered == "help":
        return Command(CommandKind.HELP)
    return Command(CommandKind.HELP, word[:MAX_WORD_CHARS])


def _without_code_spans(line: str) -> str:
    """Return `line` without its code spans (CommonMark: a run of backticks up
    to the next run of the same length), in one pass over the runs."""
    runs = [m.span() for m in _BACKTICKS.finditer(line)]
    if len(runs) < 2:
        return line
    # For each run, the index of the next run of the same length.
    following: list[int | None] = [None] * len(runs)
    latest: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        size = runs[i][1] - runs[i][0]
        following[i] = latest.get(size)
        latest[size] = i
    kept, pos, i = [], 0, 0
    while i < len(runs):
        close = following[i]
        if close is None:
            i += 1
            continue
        kept.append(line[pos : runs[i][0]])
        pos = runs[close][1]
        i = close + 1
    kept.append(line[pos:])
    return "".join(kept)


def _comment_state(line: str, inside: bool) -> bool:
    """Return whether an HTML comment is still open at the end of `line`."""
    text = _without_code_spans(line) if not inside else line
    pos = 0
    while True:
        if inside:
            end = text.find(_COMMENT_CLOSE, pos)
            if end < 0:
                return True
            inside, pos = False, end + len(_COMMENT_CLOSE)
        else:
            start = text.find(_COMMENT_OPEN, pos)
            if start < 0:
                return False
            pos = start + len(_COMMENT_OPEN)
            # `<!-->` and `<!--->` are complete (empty) comments.
            if text.startswith(">", pos):
                pos += 1
            elif text.startswith("->", pos):
                pos += 2
            else:
                inside = True


def parse_commands(body: str) -> tuple[Command, ...]:
    """Return the commands in a comment body, in order, without repeats."""
    found: list[Command] = []
    fence: str | None = None  # the opening fence while inside a code block
    in_comment = inline_comment = False
    text = body[:MAX_BODY_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    for line in text.split("\n"):
        if fence is not None:
            close = _FENCE.fullmatch(line)
            if (
                close
                and close.group(1)[0] == fence[0]
                and len(close.group(1)) >= len(fence)
                and not close.group(2).strip()
            ):
                fence = None
            continue
        if in_comment:
            if inline_comment and not line.strip():
                in_comment = False
            else:
                in_comment = _comment_state(line, inside=True)
            continue
        if _QUOTE.match(line):
            continue
        opening = _FENCE.fullmatch(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence = opening.group(1)
            continue
        match = _COMMAND_LINE.match(line)
        if match:
            words = line[match.end() :].split(_COMMENT_OPEN, 1)[0].split()
            command = _word_command(words[0] if words else "")
            if command not in found and len(found) < MAX_COMMANDS:
                found.append(command)
        in_comment = _comment_state(line, inside=False)
        # An HTML block (`<!--` first on its line) runs to `-->`; a comment
        # opened inside a paragraph ends with the paragraph.
        inline_comment = in_comment and not line.lstrip(" ").startswith(_COMMENT_OPEN)
    return tuple(found)


def new_commands(old_body: str, new_body: str) -> tuple[Command, ...]:
    """Return the commands in `new_body` that `old_body` did not contain."""
    old = set(parse_commands(old_body))
    return tuple(c for c in parse_commands(new_body) if c not in old)
