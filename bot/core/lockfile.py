"""Cargo.lock reader (formats v1-v4) that keeps 1-based line numbers."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, cast


class SourceKind(StrEnum):
    """Where a locked package comes from."""

    REGISTRY = "registry"  # crates-io (git or sparse protocol)
    OTHER_REGISTRY = "other-registry"  # any other registry+/sparse+ source
    GIT = "git"
    PATH = "path"  # no `source`: path dependency or workspace member


@dataclass(frozen=True, slots=True)
class LockedPackage:
    """One `[[package]]` entry."""

    name: str
    version: str
    line: int  # 1-based line of the `version =` entry
    source: str | None
    source_kind: SourceKind
    checksum: str | None  # inline (v2+) or from v1 `[metadata]`
    checksum_line: int | None  # line holding the checksum (v1: the metadata line)
    start_line: int  # line of the `[[package]]` header
    end_line: int  # last non-blank line of the block
    dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LockfileError:
    """Why a lockfile could not be read, and where."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Lockfile:
    """A parsed Cargo.lock; on bad input `error` is set, `packages` may be partial.

    When `names` is set, `packages` holds only the packages with those names
    (the rest of the file was still checked and counted for `format_version`).
    """

    path: str
    format_version: int | None  # None when it cannot be told (no checksums, no key)
    packages: tuple[LockedPackage, ...]
    error: LockfileError | None = None
    names: frozenset[str] | None = None  # the names kept; None: every package

    def named(self, name: str) -> tuple[LockedPackage, ...]:
        """Return the packages called exactly `name`; raise if `name` was not kept."""
        if self.names is not None and name not in self.names:
            raise ValueError(f"{name!r} was not kept when this lockfile was read")
        return tuple(p for p in self.packages if p.name == name)


# crates-io is spelled as its git index even when fetched over the sparse
# protocol; the sparse URL is accepted too (Cargo writes it for sparse-only
# registry configurations). https://doc.rust-lang.org/cargo/reference/registry-index.html
CRATES_IO_SOURCES: Final = frozenset(
    {
        "registry+https://github.com/rust-lang/crates.io-index",
        "sparse+https://index.crates.io/",
    }
)
_MAX_NESTING: Final = 64  # arrays/inline tables deeper than this are refused
# Cargo-shaped text is read by one regex match per block; the statement parser
# costs about a microsecond per character. Real lockfiles send little through
# it, so more than this much text is not what Cargo writes and is refused.
MAX_SLOW_CHARS: Final = 2_000_000
_NOT_CARGO_SHAPED: Final = (
    "more than {} characters are not in the shape Cargo writes "
    "lockfiles in; not read further"
)

# Cargo writes every [[package]] block in this exact shape (keys in this order,
# one dependency per line, then blank lines up to the next header). One regex
# match per block is what makes the scanner fast; anything else (comments,
# escapes, odd spacing, unknown keys) goes through the statement parser below.
# A string's text in printable ASCII without `"` or `\`: what Cargo writes.
# (Anything else, escapes included, is left to the statement parser; a
# character class of ranges is also the fastest one for the regex engine.)
_PLAIN: Final = r"[ !#-\[\]-~]*"


def _package_shape(group: str, name: str = "") -> str:
    """Return the regex of one Cargo-shaped block; `group` opens its groups.

    `name`, if given, is a lookahead put before the package's name.
    """
    # Possessive throughout: what follows each part never matches text that
    # part could give back, so backtracking would only cost time.
    return (
        r"\[\[package\]\]\n"
        rf'name = "{name}{group}{_PLAIN}+)"\n'
        rf'version = "{group}{_PLAIN}+)"\n'
        rf'(?:source = "{group}{_PLAIN}+)"\n)?+'
        rf'(?:checksum = "{group}{_PLAIN}+)"\n)?+'
        rf'(?:dependencies = \[\n{group}(?: "{_PLAIN}+",\n)*+)\]\n)?+'
        rf"{group}\n*+)(?=\[|\Z)"
    )


def _checksum_shape(group: str, name: str = "") -> str:
    """Return the regex of one v1 `[metadata]` checksum line (`name` as above)."""
    word = r"[!#-\[\]-~]+"
    return (
        rf'"checksum {name}{group}{word}) {group}{word}) \({group}{_PLAIN})\)" = '
        rf'"{group}{_PLAIN})"\n'
    )


_FAST_PACKAGE: Final = re.compile(_package_shape("("))
_FAST_CHECKSUM: Final = re.compile(_checksum_shape("("))


@functools.lru_cache(maxsize=8)
def _skip_runs(names: frozenset[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Return patterns for runs of blocks and of v1 checksum lines not of `names`.

    When only a few names are wanted, one such match checks a whole run of
    Cargo-shaped text and stops at the next wanted block (or at other text).
    """
    alternatives = "|".join(re.escape(name) for name in sorted(names))
    package = f'(?!(?:{alternatives})")' if names else ""
    checksum = f"(?!(?:{alternatives}) )" if names else ""
    return (
        re.compile(f"(?:{_package_shape('(?:', package)})*+"),
        re.compile(f"(?:{_checksum_shape('(?:', checksum)})*+"),
    )


_V1_KEY: Final = re.compile(r"checksum (\S+) (\S+) \((.*)\)", re.DOTALL)
_BLANK: Final = re.compile(r"[ \t]*(?:#[^\n]*)?(?:\n|\Z)")
_GAP: Final = re.compile(r"(?:[ \t\n]|#[^\n]*)*")
_WS: Final = re.compile(r"[ \t]*")
_BARE_KEY: Final = re.compile(r"[A-Za-z0-9_-]+")
_BASIC: Final = re.compile(r'"([^"\\\n]*(?:\\[^\n][^"\\\n]*)*)"')
_LITERAL: Final = re.compile(r"'([^'\n]*)'")
# Possessive: a backtracking loop would keep state for every character.
_ML_BASIC: Final = re.compile(r'"""(?:[^"\\]++|\\.|"{1,2}(?!"))*+"{3,5}', re.DOTALL)
_ML_LITERAL: Final = re.compile(r"'''(?:[^']++|'{1,2}(?!'))*+'{3,5}")
_SCALAR: Final = re.compile(
    r"[0-9A-Za-z_:.+-]+(?:(?<=[0-9]{4}-[0-9]{2}-[0-9]{2}) [0-9][0-9:.+Z-]*)?"
)
_INTEGER: Final = re.compile(r"[+-]?[0-9](?:_?[0-9])*")
_ESCAPE: Final = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))")
_ESCAPES: Final = {
    "b": "\b",
    "t": "\t",
    "n": "\n",
    "f": "\f",
    "r": "\r",
    '"': '"',
    "\\": "\\",
}


def source_kind(source: str | None) -> SourceKind:
    """Return where a package with this `source` string comes from."""
    if source is None:
        return SourceKind.PATH
    if source in CRATES_IO_SOURCES:
        return SourceKind.REGISTRY
    if source.startswith("git+"):
        return SourceKind.GIT
    # registry+/sparse+ of another registry, or a scheme Cargo may add later:
    # either way not crates-io, so not something the fix may edit.
    return SourceKind.OTHER_REGISTRY


class _BadInput(Exception):
    """Raised inside the scanner; `parse_lockfile` turns it into a LockfileError."""

    def __init__(self, message: str, *, pos: int = 0, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos  # offset in the text, used when `line` is 0
        self.line = line


class _Other:
    """A TOML value the scanner skips (number, bool, date, table, long string)."""


_OTHER: Final = _Other()


class _Table(StrEnum):
    TOP = "top"  # before any header
    METADATA = "metadata"
    OTHER = "other"  # [[package]] read by the fast path, [root], [[patch.unused]]


class _Pending:
    """A [[package]] block being read statement by statement."""

    __slots__ = ("fields", "last_line", "lines", "start_line")

    def __init__(self, start_line: int) -> None:
        self.start_line = start_line
        self.last_line = start_line
        self.fields: dict[str, object] = {}
        self.lines: dict[str, int] = {}


def _end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Return where `pattern` (which also matches the empty string) ends."""
    return cast("re.Match[str]", pattern.match(text, pos)).end()


def _unescape(raw: str, pos: int) -> str:
    def one(match: re.Match[str]) -> str:
        code = match[1] or match[2]
        if code is not None:
            value = int(code, 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise _BadInput(f"invalid unicode escape {match[0]}", pos=pos)
            return chr(value)
        char = _ESCAPES.get(match[3])
        if char is None:
            raise _BadInput(f"invalid escape {match[0]} in a string", pos=pos)
        return char

    return _ESCAPE.sub(one, raw)


class _Scanner:
    """Statement-level reader for Cargo.lock text (CRLF already folded to LF)."""

    def __init__(
        self, text: str, names: frozenset[str] | None, slow_budget: int
    ) -> None:
        self.text = text
        self.slow_budget = slow_budget  # see MAX_SLOW_CHARS
        self.names = names  # None: keep every package
        self.packages: list[LockedPackage] = []
        self.table = _Table.TOP
        self.pending: _Pending | None = None
        self.format_version: int | None = None
        # v1 checksums of the kept names, by (name, version, source)
        self.checksums: dict[tuple[str, str, str], tuple[str, int]] = {}
        self.v1_checksums = False  # any `[metadata]` checksum line, kept or not
        self.inline_checksum = False  # any package with `checksum`, kept or not
        self.slow_chars = 0  # text read by the statement parser so far
        self.slow_limit = slow_budget  # where the current statement must stop

    def run(self) -> None:
        """Read the whole text into `packages`; raise _BadInput on bad input."""
        if self.names is not None:
            self._run_filtered(self.names)
            return
        text = self.text
        end = len(text)
        pos = 0
        line = 1
        fast_package = _FAST_PACKAGE.match
        fast_checksum = _FAST_CHECKSUM.match
        count = text.count
        packages = self.packages
        checksums = self.checksums
        kinds: dict[str | None, SourceKind] = {}
        while pos < end:
            first = text[pos]
            if first == "[":
                self._finish()
                match = fast_package(text, pos)
                if match is not None:
                    # Cargo's blocks follow each other: stay in this tight loop.
                    while match is not None:
                        name, version, source, checksum, deps, tail = match.groups()
                        kind = kinds.get(source)
                        if kind is None:
                            kind = kinds[source] = source_kind(source)
                        after = match.end()
                        lines = count("\n", pos, after)
                        sum_line = line + 4 if source is not None else line + 3
                        packages.append(
                            LockedPackage(
                                name,
                                version,
                                line + 2,
                                source,
                                kind,
                                checksum,
                                None if checksum is None else sum_line,
                                line,
                                line + lines - len(tail) - 1,
                                tuple(deps[2:-3].split('",\n "')) if deps else (),
                            )
                        )
                        pos = after
                        line += lines
                        match = fast_package(text, pos)
                    self.table = _Table.OTHER
                    continue
            elif first == '"' and self.table is _Table.METADATA:
                match = fast_checksum(text, pos)
                if match is not None:
                    self.v1_checksums = True
                    while match is not None:
                        name, version, source, value = match.groups()
                        checksums[name, version, source] = (value, line)
                        pos = match.end()
                        line += 1
                        match = fast_checksum(text, pos)
                    continue
            pos, line = self._statement(pos, line)
        self._finish()

    def _run_filtered(self, names: frozenset[str]) -> None:
        """Like `run`, but build LockedPackages only for `names`.

        Runs of Cargo-shaped blocks of other packages are checked by one regex
        match each; everything else is read as `run` reads it, so the errors,
        the format version and the kept packages are the same.
        """
        text = self.text
        end = len(text)
        pos = 0
        line = 1
        skip_packages, skip_checksums = _skip_runs(names)
        while pos < end:
            first = text[pos]
            if first == "[":
                self._finish()
                stop = _end(skip_packages, text, pos)
                if stop > pos:
                    if not self.inline_checksum:
                        found = text.find('\nchecksum = "', pos, stop)
                        self.inline_checksum = found >= 0
                    if stop == end:  # the usual case: no need to count lines
                        break
                    line += text.count("\n", pos, stop)
                    pos = stop
                    self.table = _Table.OTHER
                    continue
                match = _FAST_PACKAGE.match(text, pos)
                if match is not None:  # Cargo-shaped yet not skipped: a wanted block
                    pos, line = self._keep_package(match, line)
                    continue
            elif first == '"' and self.table is _Table.METADATA:
                stop = _end(skip_checksums, text, pos)
                if stop > pos:
                    self.v1_checksums = True
                    if stop == end:
                        break
                    line += text.count("\n", pos, stop)
                    pos = stop
                    continue
                match = _FAST_CHECKSUM.match(text, pos)
                if match is not None:
                    self.v1_checksums = True
                    name, version, source, value = match.groups()
                    self.checksums[name, version, source] = (value, line)
                    pos = match.end()
                    line += 1
                    continue
            pos, line = self._statement(pos, line)
        self._finish()

    def _keep_package(self, match: re.Match[str], line: int) -> tuple[int, int]:
        """Add the Cargo-shaped block `match` at `line`; return the place after it."""
        name, version, source, checksum, deps, tail = match.groups()
        lines = match[0].count("\n")
        if checksum is not None:
            self.inline_checksum = True
        self.packages.append(
            LockedPackage(
                name,
                version,
                line + 2,
                source,
                source_kind(source),
                checksum,
                None if checksum is None else line + (3 if source is None else 4),
                line,
                line + lines - len(tail) - 1,
                tuple(deps[2:-3].split('",\n "')) if deps else (),
            )
        )
        self.table = _Table.OTHER
        return match.end(), line + lines

    def _statement(self, pos: int, line: int) -> tuple[int, int]:
        """Read the statement at `pos` (an array may span lines); return the next.

        Raise once the statement parser has read more than `slow_budget`.
        """
        self.slow_limit = pos + self.slow_budget - self.slow_chars
        after, next_line = self._read_statement(pos, line)
        self._check_budget(after - 1)
        self.slow_chars += after - pos
        return after, next_line

    def _check_budget(self, pos: int) -> None:
        if pos >= self.slow_limit:
            raise _BadInput(_NOT_CARGO_SHAPED.format(self.slow_budget), pos=pos)

    def _read_statement(self, pos: int, line: int) -> tuple[int, int]:
        text = self.text
        blank = _BLANK.match(text, pos)
        if blank is not None:
            return blank.end(), line + 1
        if text[pos] == "[":
            return self._header(pos, line), line + 1
        start = pos
        keys, pos = self._key(pos)
        if not text.startswith("=", pos):
            raise _BadInput("expected `key = value` or a [table] header", pos=pos)
        value, pos = self._value(_end(_WS, text, pos + 1), 0)
        last_line = line + text.count("\n", start, pos)
        after = _BLANK.match(text, pos)
        if after is None:
            raise _BadInput("unexpected text after a value", pos=pos)
        self._assign(keys, value, line, last_line, start)
        return after.end(), last_line + 1

    def _header(self, pos: int, line: int) -> int:
        text = self.text
        double = text.startswith("[[", pos)
        close = "]]" if double else "]"
        keys, pos = self._key(pos + len(close))
        if not text.startswith(close, pos):
            raise _BadInput("malformed [table] header", pos=pos)
        after = _BLANK.match(text, pos + len(close))
        if after is None:
            raise _BadInput("unexpected text after a [table] header", pos=pos)
        self._finish()
        self.table = _Table.OTHER  # [[patch.unused]], [root], tables Cargo adds later
        if double and keys == ["package"]:
            self.pending = _Pending(line)
        elif not double and keys == ["metadata"]:
            self.table = _Table.METADATA
        return after.end()

    def _key(self, pos: int) -> tuple[list[str], int]:
        """Read a (possibly dotted) key and the blanks after it."""
        text = self.text
        parts: list[str] = []
        while True:
            self._check_budget(pos)
            pos = _end(_WS, text, pos)
            if match := _BARE_KEY.match(text, pos):
                parts.append(match[0])
            elif match := _BASIC.match(text, pos):
                raw = match[1]
                parts.append(_unescape(raw, pos) if "\\" in raw else raw)
            elif match := _LITERAL.match(text, pos):
                parts.append(match[1])
            else:
                raise _BadInput("expected a key", pos=pos)
            pos = _end(_WS, text, match.end())
            if not text.startswith(".", pos):
                return parts, pos
            pos += 1

    def _value(self, pos: int, depth: int) -> tuple[object, int]:
        """Read one TOML value; strings, integers and arrays are kept."""
        text = self.text
        self._check_budget(pos)
        if depth > _MAX_NESTING:
            raise _BadInput("values nested too deeply", pos=pos)
        char = text[pos : pos + 1]
        if char == '"':
            if match := _ML_BASIC.match(text, pos):
                return _OTHER, match.end()
            if match := _BASIC.match(text, pos):
                raw = match[1]
                return (_unescape(raw, pos) if "\\" in raw else raw), match.end()
            raise _BadInput("unterminated string", pos=pos)
        if char == "'":
            if match := _ML_LITERAL.match(text, pos):
                return _OTHER, match.end()
            if match := _LITERAL.match(text, pos):
                return match[1], match.end()
            raise _BadInput("unterminated string", pos=pos)
        if char == "[":
            return self._array(pos + 1, depth + 1)
        if char == "{":
            return self._inline_table(pos + 1, depth + 1)
        if match := _SCALAR.match(text, pos):
            token = match[0]
            if _INTEGER.fullmatch(token):
                return int(token.replace("_", "")), match.end()
            return _OTHER, match.end()
        raise _BadInput("expected a value", pos=pos)

    def _array(self, pos: int, depth: int) -> tuple[list[object], int]:
        text = self.text
        items: list[object] = []
        while True:
            pos = _end(_GAP, text, pos)
            if text.startswith("]", pos):
                return items, pos + 1
            if pos >= len(text):
                raise _BadInput("unterminated array", pos=pos)
            value, pos = self._value(pos, depth)
            items.append(value)
            pos = _end(_GAP, text, pos)
            if text.startswith(",", pos):
                pos += 1
            elif not text.startswith("]", pos):
                raise _BadInput("expected `,` or `]` in an array", pos=pos)

    def _inline_table(self, pos: int, depth: int) -> tuple[_Other, int]:
        text = self.text
        pos = _end(_WS, text, pos)
        if text.startswith("}", pos):
            return _OTHER, pos + 1
        while True:
            _, pos = self._key(pos)
            if not text.startswith("=", pos):
                raise _BadInput("expected `=` in an inline table", pos=pos)
            _, pos = self._value(_end(_WS, text, pos + 1), depth)
            pos = _end(_WS, text, pos)
            if text.startswith("}", pos):
                return _OTHER, pos + 1
            if not text.startswith(",", pos):
                raise _BadInput("expected `,` or `}` in an inline table", pos=pos)
            pos += 1

    def _assign(
        self, keys: list[str], value: object, line: int, last_line: int, pos: int
    ) -> None:
        pending = self.pending
        if pending is not None:
            pending.last_line = last_line
            key = keys[0]
            if len(keys) > 1:  # `name.x = 1` makes `name` a table, not a string
                value = _OTHER
            elif key in pending.fields:
                raise _BadInput(f"duplicate key `{key}` in a [[package]]", pos=pos)
            pending.fields[key] = value
            pending.lines[key] = line
        elif self.table is _Table.METADATA:
            match = _V1_KEY.fullmatch(keys[0])
            if len(keys) == 1 and isinstance(value, str) and match is not None:
                self.v1_checksums = True
                self.checksums[match[1], match[2], match[3]] = (value, line)
        elif self.table is _Table.TOP and keys == ["version"]:
            if not isinstance(value, int):
                raise _BadInput("the lockfile `version` must be an integer", pos=pos)
            self.format_version = value

    def _finish(self) -> None:
        """Turn the pending [[package]] block, if any, into a LockedPackage."""
        pending = self.pending
        if pending is None:
            return
        self.pending = None
        fields = pending.fields
        name, version = fields.get("name"), fields.get("version")
        source, checksum = fields.get("source"), fields.get("checksum")
        deps = fields.get("dependencies", [])
        at = pending.start_line
        if not isinstance(name, str):
            raise _BadInput("[[package]] without a string `name`", line=at)
        if not isinstance(version, str):
            raise _BadInput(f"[[package]] {name} without a string `version`", line=at)
        if not isinstance(source, str | None):
            raise _BadInput(f"[[package]] {name}: `source` is not a string", line=at)
        if not isinstance(checksum, str | None):
            raise _BadInput(f"[[package]] {name}: `checksum` is not a string", line=at)
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            raise _BadInput(
                f"[[package]] {name}: `dependencies` is not a list of strings", line=at
            )
        if checksum is not None:
            self.inline_checksum = True
        if self.names is not None and name not in self.names:
            return
        self.packages.append(
            LockedPackage(
                name=name,
                version=version,
                line=pending.lines["version"],
                source=source,
                source_kind=source_kind(source),
                checksum=checksum,
                checksum_line=None if checksum is None else pending.lines["checksum"],
                start_line=at,
                end_line=pending.last_line,
                dependencies=tuple(deps),
            )
        )

    def result(self, path: str, error: LockfileError | None) -> Lockfile:
        """Return the Lockfile read so far, v1 checksums filled in."""
        packages: list[LockedPackage] = self.packages
        fmt = self.format_version
        # `[metadata]` of v2+ is an opaque map: only a key-less file is v1.
        if fmt is None and self.v1_checksums:
            packages = [self._with_v1_checksum(p) for p in packages]
            fmt = 1
        elif fmt is None and (
            self.inline_checksum or any(p.checksum is not None for p in packages)
        ):
            fmt = 2
        return Lockfile(path, fmt, tuple(packages), error, self.names)

    def _with_v1_checksum(self, pkg: LockedPackage) -> LockedPackage:
        if pkg.checksum is not None or pkg.source is None:
            return pkg
        found = self.checksums.get((pkg.name, pkg.version, pkg.source))
        # v1 writes "<none>" for sourced packages without a checksum (git).
        if found is None or found[0] == "<none>":
            return pkg
        return LockedPackage(
            pkg.name,
            pkg.version,
            pkg.line,
            pkg.source,
            pkg.source_kind,
            found[0],
            found[1],
            pkg.start_line,
            pkg.end_line,
            pkg.dependencies,
        )


def parse_lockfile(
    text: str,
    path: str = "Cargo.lock",
    names: frozenset[str] | None = None,
    *,
    slow_budget: int = MAX_SLOW_CHARS,
) -> Lockfile:
    """Return the packages of a Cargo.lock (v1-v4); bad input sets `error`.

    Reading stops at the first error; the packages before it are kept. With
    `names`, only packages with those names are built, but the whole text is
    still checked: the error, `format_version` and the kept packages are those
    of the full read.
    """
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        # TOML allows CRLF line ends; line numbers do not change.
        text = text.replace("\r\n", "\n")
    scanner = _Scanner(text, names, slow_budget)
    error: LockfileError | None = None
    try:
        scanner.run()
    except _BadInput as bad:
        line = bad.line or text.count("\n", 0, bad.pos) + 1
        error = LockfileError(line, bad.message)
    return scanner.result(path, error)
