"""Tests for bot.core.diffs: hunks from real-format patches of real lockfiles."""

from __future__ import annotations

import difflib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.diffs import commentable_lines, parse_patch, suggestion_range
from tests.paths import CORPUS

RIPGREP_LOCK = CORPUS / "BurntSushi__ripgrep@a7f1276021" / "Cargo.lock"
CKSUM_144 = "2b00cc1c228a6782d0f076e7b232802e0c5689d41bb5df366f2a6b6621cfdfe1"
CKSUM_146 = "f92be4933c13fd498862a9e02a3055f8a8d9c039ce33db97306fd5a6caa7f29b"


def github_patch(old: str, new: str, context: int = 3) -> str:
    """Return a patch the way GitHub's pulls/{n}/files shows it (no file headers).

    autojunk is off: git does not treat frequent lines (every `source = ...`
    line of a lockfile) as junk, and difflib would otherwise widen the change.
    """
    a, b = old.splitlines(), new.splitlines()
    out: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{i1 + 1},{i2 - i1} +{j1 + 1},{j2 - j1} @@")
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                out.extend(" " + line for line in a[a1:a2])
                continue
            out.extend("-" + line for line in a[a1:a2])
            out.extend("+" + line for line in b[b1:b2])
    return "\n".join(out)


def expected_right_lines(old: str, new: str, context: int = 3) -> set[int]:
    """Return the new-side lines difflib shows, counted independently of diffs.py."""
    shown: set[int] = set()
    matcher = difflib.SequenceMatcher(
        None, old.splitlines(), new.splitlines(), autojunk=False
    )
    for group in matcher.get_grouped_opcodes(context):
        for tag, _i1, _i2, j1, j2 in group:
            if tag != "delete":
                shown.update(range(j1 + 1, j2 + 1))
    return shown


def lock_text() -> str:
    return RIPGREP_LOCK.read_text()


def bump_libc(text: str) -> str:
    return text.replace('version = "0.2.144"', 'version = "0.2.146"').replace(
        CKSUM_144, CKSUM_146
    )


def test_libc_bump_gives_one_hunk_covering_version_and_checksum() -> None:
    old = lock_text()
    patch = github_patch(old, bump_libc(old))
    hunks = parse_patch(patch)
    assert len(hunks) == 1
    assert hunks[0].added == {290, 292}
    assert (hunks[0].first, hunks[0].last) == (287, 295)
    assert suggestion_range(patch, 290, 292) == (290, 292)
    assert suggestion_range(patch, 290, 290) == (290, 290)


def test_range_outside_any_hunk_is_refused() -> None:
    old = lock_text()
    new = old.replace('name = "aho-corasick"', 'name = "aho-corasick2"', 1)
    patch = github_patch(old, new)
    assert suggestion_range(patch, 290, 292) is None
    assert 290 not in commentable_lines(patch)


def test_range_spanning_two_hunks_is_refused() -> None:
    lines = [f"line {i}" for i in range(1, 41)]
    new = list(lines)
    new[4] = "changed 5"
    new[20] = "changed 21"
    patch = github_patch("\n".join(lines), "\n".join(new))
    assert len(parse_patch(patch)) == 2
    assert suggestion_range(patch, 5, 6) == (5, 6)
    assert suggestion_range(patch, 21, 24) == (21, 24)
    # Both ends are commentable, but in different hunks: GitHub answers 422.
    assert {5, 21} <= commentable_lines(patch)
    assert suggestion_range(patch, 5, 21) is None


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("@@ -1 +1 @@\n-a\n+b", {1}),
        ("@@ -0,0 +1,2 @@\n+a\n+b", {1, 2}),
        ("@@ -1,2 +0,0 @@\n-a\n-b", set()),
        (
            "@@ -1,2 +1,2 @@ fn main() {\n a\n-b\n+c\n\\ No newline at end of file",
            {1, 2},
        ),
        ("", set()),
        ("garbage\n@@ -1 +1 @@\n-a\n+b", set()),
        ("@@ -1,3 +1,3 @@\n a\n-b", set()),  # truncated hunk
        ("@@ -1,2 +1,2 @@\n a\n?b\n", set()),  # unknown line tag
        ("@@ -1,2 +1,2 @@\n-a\n+b\n c\n@@ -9 +9 @@\n-x\n+y\n", {1, 2, 9}),
        ("@@ -1,2 +1,2 @@\n\n-a\n+b\n", {1, 2}),  # stripped context space
    ],
)
def test_parse_patch_edge_cases(patch: str, expected: set[int]) -> None:
    assert commentable_lines(patch) == expected


@pytest.mark.parametrize(("first", "last"), [(0, 1), (3, 2), (-1, -1)])
def test_nonsense_ranges_are_refused(first: int, last: int) -> None:
    assert suggestion_range("@@ -1,4 +1,4 @@\n a\n b\n-c\n+d\n e", first, last) is None


@settings(max_examples=60, deadline=None)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=3000),
            st.sampled_from(["replace", "insert", "delete"]),
        ),
        min_size=1,
        max_size=8,
    ),
    context=st.integers(min_value=0, max_value=5),
)
def test_commentable_lines_match_difflib(
    edits: list[tuple[int, str]], context: int
) -> None:
    old_lines = lock_text().splitlines()
    new_lines = list(old_lines)
    for index, kind in edits:
        at = index % max(len(new_lines), 1)
        if kind == "replace":
            new_lines[at] = new_lines[at] + " # edited"
        elif kind == "insert":
            new_lines.insert(at, "# inserted")
        elif new_lines:
            del new_lines[at]
    old, new = "\n".join(old_lines), "\n".join(new_lines)
    patch = github_patch(old, new, context)
    shown = expected_right_lines(old, new, context)
    assert commentable_lines(patch) == shown
    for hunk in parse_patch(patch):
        for line in hunk.added:
            assert hunk.first <= line <= hunk.last
        if hunk.last >= hunk.first:
            assert suggestion_range(patch, hunk.first, hunk.last) is not None
    if shown:
        top = max(shown)
        assert suggestion_range(patch, top, top + 1) is None


def test_no_newline_markers_are_not_lines() -> None:
    patch = (
        "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n"
        "\\ No newline at end of file"
    )
    assert commentable_lines(patch) == frozenset({1, 2})
