"""Scan cargo-dist configuration and the root Cargo.toml.

Musl uses: `targets` of `[workspace.metadata.dist]` / `[package.metadata.dist]`
(Cargo.toml) or `[dist]` (dist-workspace.toml, dist.toml), cross metadata
(`[package.metadata.cross.target.<triple>]`) and packaging metadata paths.
`[target.'cfg(target_env = "musl")'.dependencies]` tables are conditional
dependencies, not builds, and are never reported.

Hints from Cargo.toml: `rust-version` (MSRV), a libc requirement that rules out
0.2.146 and later (it blocks `cargo update -p libc`), and `[patch]` of libc.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, SourceResult, UseKind
from bot.core.sources.cargo_config import (
    TomlLine,
    checked,
    first_string,
    read_toml,
    strict_triples,
    value_text,
)
from bot.core.sources.cross import cross_uses

_DEP_TABLES: Final = frozenset(
    {"dependencies", "dev-dependencies", "build-dependencies"}
)
# Packaging metadata whose paths/targets name what the project builds.
_BUILD_METADATA: Final = frozenset({"dist", "rpm", "generate-rpm", "deb"})
_LIBC_WORD_RE: Final = re.compile(r"\blibc\b")
# Lines worth a look: hints, musl triples, and every line of a `libc` or
# `[patch]` table (`[dependencies.libc]` then `version = ...`).
_WANTED: Final = ("rust-version", "libc", "-linux-musl", "patch", "replace")
# Matched against a stripped comparator: `\s*` at both ends (next to the
# optional operator's own `\s*`) backtracks quadratically on a run of spaces.
_COMPARATOR_RE: Final = re.compile(
    r"(?P<op>=|<=|>=|<|>|~|\^)?\s*v?(?P<major>\d+|\*|x|X)"
    r"(?:\.(?P<minor>\d+|\*|x|X))?(?:\.(?P<patch>\d+|\*|x|X))?(?:[-+][\w.-]*)?"
)
_Triple = tuple[int, int, int]
_FIXED: Final[_Triple] = (0, 2, 146)
_NEXT_MINOR: Final[_Triple] = (0, 3, 0)
_INF: Final[_Triple] = (1 << 62, 0, 0)


def _interval(match: re.Match[str]) -> tuple[_Triple, _Triple]:
    """Return the [low, high) versions one Cargo comparator allows."""
    parts = [match["major"], match["minor"], match["patch"]]
    known = [int(p) for p in parts if p is not None and p.isdigit()]
    given = (
        len(known) if all(p is None or p.isdigit() for p in parts[: len(known)]) else 0
    )
    major, minor, patch = [*known, 0, 0, 0][:3]
    low: _Triple = (major, minor, patch)
    if given == 0:
        return (0, 0, 0), _INF
    # The first version past the named prefix (`0.2` -> 0.3.0, `0.2.5` -> 0.2.6).
    after = (
        (major + 1, 0, 0)
        if given == 1
        else (major, minor + 1, 0)
        if given == 2
        else (major, minor, patch + 1)
    )
    op = match["op"] or "^"
    if op == "=":
        return low, after
    if op == ">":
        return after, _INF
    if op == ">=":
        return low, _INF
    if op == "<":
        return (0, 0, 0), low
    if op == "<=":
        return (0, 0, 0), after
    if op == "~":
        return low, (major + 1, 0, 0) if given == 1 else (major, minor + 1, 0)
    # Caret: the left-most non-zero part may not change.
    if major > 0 or given == 1:
        return low, (major + 1, 0, 0)
    if minor > 0 or given == 2:
        return low, (0, minor + 1, 0)
    return low, after


def blocks_fixed_libc(requirement: str) -> bool:
    """Return whether a libc requirement allows no 0.2.x release >= 0.2.146."""
    low, high = _FIXED, _NEXT_MINOR
    for part in requirement.split(","):
        match = _COMPARATOR_RE.fullmatch(part.strip())
        if match is None:
            return False
        part_low, part_high = _interval(match)
        low, high = max(low, part_low), min(high, part_high)
    return low >= high


def _libc_requirement(line: TomlLine) -> str | None:
    key = line.key
    for i in range(len(key) - 1):
        if key[i] in _DEP_TABLES and key[i + 1] == "libc":
            rest = key[i + 2 :]
            value = value_text(line).strip()
            if rest == ("version",) or (rest == () and value[:1] in "\"'"):
                return first_string(value)
            if rest == ():
                found = re.search(r"\bversion\s*=\s*(\"[^\"]*\"|'[^']*')", value)
                return found[1][1:-1] if found else None
    return None


def _hints(path: str, line: TomlLine) -> Iterator[Hint]:
    key = line.key
    if line.header:
        if key[:1] == ("patch",) and key[2:3] == ("libc",):
            yield Hint(path, line.line, HintKind.LIBC_PATCH, ".".join(key))
        return
    if key in (("package", "rust-version"), ("workspace", "package", "rust-version")):
        version = first_string(value_text(line))
        if version:
            yield Hint(path, line.line, HintKind.MSRV, version)
        return
    if key[:1] == ("patch",) and key[2:] == ("libc",):
        yield Hint(path, line.line, HintKind.LIBC_PATCH, value_text(line).strip())
        return
    if key[:1] == ("replace",) and len(key) > 1 and key[1].startswith("libc:"):
        yield Hint(path, line.line, HintKind.LIBC_PATCH, key[1])
        return
    requirement = _libc_requirement(line)
    if requirement is not None and blocks_fixed_libc(requirement):
        yield Hint(path, line.line, HintKind.LIBC_PIN, requirement)


def _uses(path: str, line: TomlLine) -> Iterator[MuslUse]:
    key = line.key
    if key[:1] == ("dist",):
        tool = "dist"
    elif len(key) >= 3 and key[0] in ("package", "workspace") and key[1] == "metadata":
        tool = key[2]
    else:
        return
    if tool == "cross":
        yield from cross_uses(path, line, key[2:], UseKind.CROSS)
    elif tool in _BUILD_METADATA:
        for triple in dict.fromkeys(strict_triples(line.code)):
            yield MuslUse(path, line.line, triple, UseKind.DIST, resolves_to=(triple,))


def scan(path: str, text: str) -> SourceResult:
    """Return cargo-dist/cross musl targets and libc/MSRV hints of a manifest."""
    musl = "-linux-musl" in text
    if not (
        musl
        or "rust-version" in text
        or ("libc" in text and _LIBC_WORD_RE.search(text) is not None)
    ):
        return SourceResult()
    lines, problem = read_toml(path, text, _WANTED)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses: list[MuslUse] = []
    hints: list[Hint] = []
    for line in lines:
        if musl:
            uses.extend(_uses(path, line))
        hints.extend(_hints(path, line))
    result = SourceResult(tuple(uses), tuple(hints))
    if uses or any(hint.kind is not HintKind.MSRV for hint in hints):
        # An MSRV alone is read from its own line; not worth a full parse.
        return checked(path, text, result)
    return result
