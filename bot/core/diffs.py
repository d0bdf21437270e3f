"""Unified-diff hunks, and which new-side lines a suggested change may cover.

A pull request's file list carries a `patch` per file: unified-diff hunks with
no file headers. Review comments (and so suggestions) may only target lines
shown in those hunks, and a multi-line comment must start and end in the same
hunk; anything else makes GitHub reject the whole review with 422.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# At most 9 digits: line numbers beyond that are no patch GitHub sends.
_HUNK_RE: Final = re.compile(
    r"@@ -(\d{1,9})(?:,(\d{1,9}))? \+(\d{1,9})(?:,(\d{1,9}))? @@"
)


@dataclass(frozen=True, slots=True)
class Hunk:
    """One hunk; `first`..`last` are the new-side (RIGHT) lines it shows."""

    old_start: int
    new_start: int
    first: int  # first RIGHT line shown (context or addition)
    last: int  # last RIGHT line shown; last < first when the hunk only deletes
    added: frozenset[int]  # RIGHT lines that are additions

    def covers(self, first_line: int, last_line: int) -> bool:
        """Return whether every line of `first_line..last_line` is shown here."""
        return self.first <= first_line <= last_line <= self.last


def parse_patch(patch: str) -> tuple[Hunk, ...]:
    """Return the hunks of a `patch`; a malformed hunk ends the parse there."""
    hunks: list[Hunk] = []
    lines = patch.split("\n")
    i = 0
    while i < len(lines):
        match = _HUNK_RE.match(lines[i])
        if match is None:
            if hunks or lines[i].strip():
                # Text outside a hunk: nothing after it can be trusted.
                break
            i += 1
            continue
        old_start, old_count = int(match[1]), _count(match[2])
        new_start, new_count = int(match[3]), _count(match[4])
        i += 1
        old_seen = new_seen = 0
        added: set[int] = set()
        while i < len(lines) and (old_seen < old_count or new_seen < new_count):
            text = lines[i]
            tag = text[:1]
            # An empty line is a context line whose leading space was stripped,
            # unless it is the trailing newline of the patch.
            if tag == " " or (text == "" and i < len(lines) - 1):
                old_seen += 1
                new_seen += 1
            elif tag == "+":
                added.add(new_start + new_seen)
                new_seen += 1
            elif tag == "-":
                old_seen += 1
            elif tag != "\\":  # "\ No newline at end of file"
                break
            i += 1
        if old_seen != old_count or new_seen != new_count:
            break
        while i < len(lines) and lines[i].startswith("\\"):
            i += 1
        # A pure deletion at the top has new_start 0 and shows no new lines.
        first = max(new_start, 1)
        hunks.append(
            Hunk(
                old_start, new_start, first, new_start + new_count - 1, frozenset(added)
            )
        )
    return tuple(hunks)


def _count(text: str | None) -> int:
    # "@@ -3 +3 @@" omits the count when it is 1.
    return 1 if text is None else int(text)


def commentable_lines(patch: str) -> frozenset[int]:
    """Return every RIGHT-side line a review comment may target."""
    return frozenset(
        line for hunk in parse_patch(patch) for line in range(hunk.first, hunk.last + 1)
    )


def suggestion_range(
    patch: str, first_line: int, last_line: int
) -> tuple[int, int] | None:
    """Return `(start_line, line)` for a comment on `first_line..last_line`, or None.

    None unless both ends (and everything between) lie in the same hunk on the
    RIGHT side. When `start_line == line` the caller must omit `start_line`.
    """
    if first_line < 1 or last_line < first_line:
        return None
    for hunk in parse_patch(patch):
        if hunk.covers(first_line, last_line):
            return first_line, last_line
    return None
