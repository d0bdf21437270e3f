"""Scan `.cargo/config.toml` (and legacy `.cargo/config`) for musl targets.

Also home of the small line-aware TOML walker the other TOML scanners share:
`tomllib` validates a file but gives no positions, so the walker tells which
table and key every line belongs to.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, Problem, SourceResult, UseKind
from bot.core.targets import TRIPLE_RE

# Configuration files are a few kilobytes; anything this big is not one.
MAX_CONFIG_BYTES: Final = 1_000_000
# Open brackets deeper than this are an attack or junk, not configuration;
# tomllib recurses per level and would hit the recursion limit near 400.
MAX_NESTING: Final = 64
# Real keys have a handful of dotted parts; a key path longer than this is not
# configuration, and copying it for every line of its table costs quadratic
# time and memory.
MAX_KEY_PARTS: Final = 32

_TOKEN_RE: Final = re.compile(
    r'"""|\'\'\'|"(?:[^"\\\n]|\\.)*"?|\'[^\'\n]*\'?|#|[\[\]{}]'
)
_KEY_PART_RE: Final = re.compile(
    r'\s*(?:"(?P<basic>(?:[^"\\]|\\.)*)"|\'(?P<literal>[^\']*)\'|(?P<bare>[A-Za-z0-9_-]+))\s*'
)
_TOML_LINE_RE: Final = re.compile(r"at line (\d+)")
# C tool names that embed a triple (`x86_64-unknown-linux-musl-gcc`) are not
# Rust targets (corpus README: neutral lines).
_TOOL_SUFFIX_RE: Final = re.compile(
    r"-(?:gcc|g\+\+|cc|c\+\+|cpp|ld|ar|as|nm|strip|objcopy|objdump|ranlib|"
    r"readelf|clang|clang\+\+|gfortran)(?![A-Za-z0-9_+])"
)
_DYNAMIC_RE: Final = re.compile(
    r"target-feature=[^\"'\s]*-crt-static|link-self-contained=(?:no|n|false|off)\b"
)


@dataclass(frozen=True, slots=True)
class TomlLine:
    """One line of a TOML file and the table and key it belongs to.

    `key` is the full dotted path of the value the line holds (table + key), or
    the table path itself for a header line; `code` is the line without its
    comment (string contents kept).
    """

    line: int
    key: tuple[str, ...]
    code: str
    header: bool


def parse_key(text: str) -> tuple[str, ...] | None:
    """Return the parts of a dotted TOML key, or None if `text` is not one."""
    parts: list[str] = []
    pos = 0
    while True:
        match = _KEY_PART_RE.match(text, pos)
        if match is None:
            return None
        parts.append(match["basic"] or match["literal"] or match["bare"] or "")
        pos = match.end()
        if pos == len(text):
            return tuple(parts)
        if text[pos] != ".":
            return None
        pos += 1


def _scan_code(
    text: str, depth: int, closer: str | None
) -> tuple[str, int, str | None, int | None]:
    """Return (code, depth, open multi-line string, first `=` offset) for a line.

    `closer` is the delimiter of a multi-line string still open from an earlier
    line. Comments are cut; brackets outside strings move `depth`.
    """
    pos = 0
    equals: int | None = None
    if closer is not None:
        end = text.find(closer)
        if end < 0:
            return text, depth, closer, None
        pos = end + 3
        closer = None
    while (match := _TOKEN_RE.search(text, pos)) is not None:
        lexeme = match.group()
        if equals is None and depth == 0 and "=" in text[pos : match.start()]:
            equals = text.index("=", pos)
        pos = match.end()
        if lexeme in ('"""', "'''"):
            end = text.find(lexeme, pos)
            if end < 0:
                return text, depth, lexeme, equals
            pos = end + 3
        elif lexeme == "#":
            return text[: match.start()], depth, None, equals
        elif lexeme in "[{":
            depth += 1
            if depth > MAX_NESTING:
                return text, depth, None, equals
        elif lexeme in "]}":
            depth -= 1
    if equals is None and depth == 0 and "=" in text[pos:]:
        equals = text.index("=", pos)
    return text, depth, None, equals


def _matching_lines(text: str, needles: tuple[str, ...]) -> set[int]:
    """Return the 1-based numbers of the lines holding any of `needles`."""
    numbers: set[int] = set()
    for needle in needles:
        line, pos = 1, 0
        start = text.find(needle)
        while start >= 0:
            line += text.count("\n", pos, start)
            pos = start
            numbers.add(line)
            start = text.find(needle, start + len(needle))
    return numbers


def _table(raw: str) -> tuple[tuple[str, ...], str]:
    """Return the key path of the table header line `raw`, and its code."""
    code, _, _, _ = _scan_code(raw, 1, None)
    inner = code.strip().strip("[]")
    return parse_key(inner) or (inner.strip(),), code


def _join(table: tuple[str, ...], name: str) -> tuple[str, ...]:
    """Return the full path of key `name` (dotted, as written) in `table`."""
    return table + (parse_key(name) or (name,))


def read_toml(
    path: str, text: str, wanted: tuple[str, ...] | None = None
) -> tuple[list[TomlLine], Problem | None]:
    """Return the lines of `text` with their key paths, or why it is unreadable.

    With `wanted`, only lines holding one of its strings, and lines of tables
    with one in their name, are returned (the walk still tracks every table).
    Size, binary content and nesting are checked here; syntax only by
    `toml_problem`.
    """
    if len(text) > MAX_CONFIG_BYTES:
        return [], Problem(
            path, 1, f"file too large ({len(text)} characters); not read"
        )
    if "\x00" in text:
        return [], Problem(path, 1, "binary file (NUL bytes); not read")
    found: list[TomlLine] = []
    too_long = f"key with more than {MAX_KEY_PARTS} dotted parts; not read"
    # Most tables and keys of a large manifest hold nothing wanted, so their
    # paths are parsed only when a kept line needs them: `table` is None until
    # `header` is parsed, `key` None until built from `table` and `key_name`
    # (None: the table's own path).
    table: tuple[str, ...] | None = ()
    header = ""
    key: tuple[str, ...] | None = ()
    key_name: str | None = None
    table_wanted = wanted is None
    depth = 0
    closer: str | None = None
    wanted_lines = _matching_lines(text, wanted) if wanted is not None else set()
    # Without triple quotes anywhere, no line can open a multi-line string.
    triple_quotes = '"""' in text or "'''" in text
    for number, raw in enumerate(text.split("\n"), 1):
        keep = table_wanted or number in wanted_lines
        if closer is not None or depth > 0:
            if not (
                keep
                or closer is not None
                or "[" in raw
                or "]" in raw
                or "{" in raw
                or "}" in raw
                or (triple_quotes and ('"""' in raw or "'''" in raw))
            ):
                continue  # a line of a multi-line value that cannot change depth
            code, depth, closer, _ = _scan_code(raw, depth, closer)
            if depth > MAX_NESTING:
                return [], Problem(path, number, "nesting too deep; not read")
            depth = max(depth, 0)
            if keep and code.strip():
                if key is None:
                    if table is None:
                        table = _table(header)[0]
                    key = table if key_name is None else _join(table, key_name)
                    if len(key) > MAX_KEY_PARTS:
                        return [], Problem(path, number, too_long)
                found.append(TomlLine(number, key, code, header=False))
            continue
        stripped = raw.lstrip()
        if not stripped or stripped[0] == "#":
            continue
        if stripped[0] == "[":
            if not keep:
                # A table named by a wanted string is on a wanted line (key
                # parts are substrings of the line), so this one is not wanted.
                table, header, table_wanted = None, raw, False
                key, key_name = None, None
                continue
            table, code = _table(raw)
            if len(table) > MAX_KEY_PARTS:
                return [], Problem(path, number, too_long)
            key = table
            table_wanted = wanted is None or any(
                needle in part for needle in wanted for part in table
            )
            found.append(TomlLine(number, table, code, header=True))
            continue
        if (
            not keep
            and not (triple_quotes and ('"""' in raw or "'''" in raw))
            and (
                # Most lines hold no bracket at all: `in` is cheaper than count.
                not ("[" in raw or "{" in raw or "]" in raw or "}" in raw)
                or raw.count("[") + raw.count("{") == raw.count("]") + raw.count("}")
            )
        ):
            continue  # opens no multi-line array, table or string
        code, depth, closer, equals = _scan_code(raw, 0, None)
        if depth > MAX_NESTING:
            return [], Problem(path, number, "nesting too deep; not read")
        depth = max(depth, 0)
        if equals is not None:
            name = code[:equals].strip()
            if keep:
                if table is None:
                    table = _table(header)[0]
                key = _join(table, name)
                if len(key) > MAX_KEY_PARTS:
                    return [], Problem(path, number, too_long)
                found.append(TomlLine(number, key, code, header=False))
            else:
                key, key_name = None, name
    return found, None


def walk_toml(text: str) -> list[TomlLine]:
    """Return every non-blank, non-comment line of `text` with its key path."""
    return read_toml("", text)[0]


def value_text(line: TomlLine) -> str:
    """Return the part of a `key = value` line after the `=` (else the line)."""
    _, sep, value = line.code.partition("=")
    return value if sep and not line.header else line.code


def first_string(text: str) -> str | None:
    """Return the first quoted string in `text`, unquoted."""
    match = re.search(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'', text)
    if match is None:
        return None
    return match[1] if match[1] is not None else match[2]


def toml_problem(path: str, text: str) -> Problem | None:
    """Return the TOML syntax error in `text` (with its line), or None."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = _TOML_LINE_RE.search(str(err))
        line = int(found[1]) if found else 1
        return Problem(path, line, f"malformed TOML: {err}")
    return None


def checked(path: str, text: str, result: SourceResult) -> SourceResult:
    """Return `result`, or the syntax problem if it found anything in bad TOML.

    tomllib is slow next to the line walk, so it only runs on files that
    produced a use or hint: those findings must not come from a broken file.
    """
    if not result.uses and not result.hints:
        return result
    problem = toml_problem(path, text)
    return result if problem is None else SourceResult(problems=(problem,))


def strict_triples(code: str) -> Iterator[str]:
    """Yield the Rust musl triples `code` names (C tool prefixes excluded)."""
    for match in TRIPLE_RE.finditer(code):
        if _TOOL_SUFFIX_RE.match(code, match.end()) is None:
            yield match["triple"]


def dynamic_flag(code: str) -> str | None:
    """Return the flag in `code` that links musl dynamically, if any."""
    if "crt-static" not in code and "link-self-contained" not in code:
        return None  # the regex needs one of them; most lines have neither
    match = _DYNAMIC_RE.search(code)
    return match.group() if match else None


_TRIGGERS: Final = ("musl", "replace-with", "crt-static", "link-self-contained")
_WANTED: Final = (
    "-linux-musl",
    "replace-with",
    "crt-static",
    "self-contained",
    "crates-io",
)


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints in a Cargo configuration file."""
    if not any(trigger in text for trigger in _TRIGGERS):
        return SourceResult()
    lines, problem = read_toml(path, text, _WANTED)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses: list[MuslUse] = []
    hints: list[Hint] = []
    for line in lines:
        for triple in dict.fromkeys(strict_triples(line.code)):
            uses.append(
                MuslUse(
                    path, line.line, triple, UseKind.CARGO_CONFIG, resolves_to=(triple,)
                )
            )
        if line.header:
            continue
        flag = dynamic_flag(line.code)
        scope = line.key[:2]
        if flag and (scope[:1] == ("build",) or any("musl" in k for k in scope)):
            hints.append(Hint(path, line.line, HintKind.DYNAMIC_MUSL, flag))
        if line.key[:3] == ("source", "crates-io", "replace-with"):
            value = first_string(value_text(line)) or ""
            hints.append(Hint(path, line.line, HintKind.VENDORED, value))
    return checked(path, text, SourceResult(tuple(uses), tuple(hints)))
