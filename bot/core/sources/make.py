"""Scan the root `Makefile` and `justfile` for musl targets.

Also home of the shell-line triple finder the Dockerfile scanner shares: strict
triples, hyphen-prefixed artifact names (`delta-1.0-x86_64-unknown-linux-musl`)
unless they name a third-party tool download, and templated triples
(`${ARCH}-unknown-linux-musl`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from bot.core.sources import MuslUse, Problem, SourceResult, UseKind
from bot.core.sources.builders import (
    ARCH_PATTERN,
    BUILDER_HINTS,
    Mention,
    builder_mentions,
)
from bot.core.sources.shell import command_dir, not_a_build
from bot.core.targets import TRIPLE_RE

MAX_TEXT_BYTES: Final = 1_000_000

# TRIPLE_RE without the `-` in its look-behind: finds `rust-cross-<triple>` image
# names and `<tool>-<version>-<triple>.tar.gz` artifact names; callers classify.
LOOSE_TRIPLE_RE: Final = re.compile(
    TRIPLE_RE.pattern.replace("(?<![A-Za-z0-9_-])", "(?<![A-Za-z0-9_])", 1)
)
# `${ARCH}-unknown-linux-musl`, `"$ARCH"-...`, `$(ARCH)-...`, `{{arch()}}-...`.
# Selector bodies are bounded (`{0,128}`): else a line packed with unclosed
# `{{` or `$(` is rescanned to its end from each of them.
TEMPLATED_RE: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<sel>(?P<q>\")?(?:\$\{\{[^}\n]{0,128}\}\}|\{\{\s{0,16}"
    r"(?P<j>[\w.]{1,128})(?:\(\))?\s{0,16}\}\}|\{\{[^}\n]{0,128}\}\}|"
    r"\$\$?\{(?P<b>\w{1,128})[^}\s]{0,128}\}|\$\$?(?P<p>\w+)|"
    r"\$\((?P<m>\w{1,128})\)|\$\([^)\n]{0,128}\)|`[^`\n]{0,128}`)(?(q)\"))"
    r"-unknown-linux-(?P<env>musl(?:eabihf|eabi|abi64|spe)?)(?![A-Za-z0-9_])"
)
_TOOL_SUFFIX_RE: Final = re.compile(
    r"-(?:gcc|g\+\+|cc|c\+\+|cpp|ld|ar|as|nm|strip|objcopy|objdump|ranlib|"
    r"readelf|clang|clang\+\+|gfortran)(?![A-Za-z0-9_+])"
)
# Characters that end a word before a triple (`[^\s"'`(]*` is a word), and the
# separators inside a word that `_third_party` splits at.
_WORD_EDGE_RE: Final = re.compile(r"[\s\"'`(/=:@]")
# A `-` part of an artifact name that is a version or a variable, not a name.
_NOT_NAME_RE: Final = re.compile(r"[v+]?\d|.*[$}{]")
_QUOTE_OR_HASH_RE: Final = re.compile(r"[\"'#]")
# A double-quoted string up to its closing quote, or as far as it can reach.
_DOUBLE_QUOTED_RE: Final = re.compile(r"\"[^\"\\]*(?:\\.[^\"\\]*)*")
_COMMENT_HASH_RE: Final = re.compile(r"(?<!\S)#")
# `VAR = x86_64` and friends: the word (or `.`) an assignment names, for the index.
_ASSIGNED_WORD_RE: Final = re.compile(r"(?<!\w)\w+(?=\s*[:?+]?=)")
_ASSIGNED_DOT_RE: Final = re.compile(r"\.(?=\s*[:?+]?=)")
_ASSIGN_TAIL_RE: Final = re.compile(rf"\s*[:?+]?=\s*[\"']?({ARCH_PATTERN})(?![\w-])")
_WORD_BOUNDARY_RE: Final = re.compile(r"\b")
_DEFAULT_ARCHES: Final = ("x86_64", "aarch64")

# Release assets of other projects built for musl: downloading one is not a musl
# build of this project (corpus README: traps).
THIRD_PARTY_TOOLS: Final = frozenset(
    {
        "binstall", "cargo-about", "cargo-audit", "cargo-binstall", "cargo-chef",
        "cargo-deny", "cargo-dist", "cargo-edit", "cargo-expand", "cargo-hack",
        "cargo-llvm-cov", "cargo-machete", "cargo-make", "cargo-nextest",
        "cargo-quickinstall", "cargo-release", "cargo-semver-checks",
        "cargo-sort", "cargo-tarpaulin", "cargo-udeps", "cargo-watch",
        "cargo-zigbuild", "cross", "git-cliff", "grcov", "hyperfine", "just",
        "lychee", "maturin", "mdbook", "mdbook-linkcheck", "mdbook-mermaid",
        "nextest", "ripgrep", "rg", "ruff", "sccache", "sd", "taplo", "trunk",
        "typos", "uv", "wasm-bindgen", "wasm-pack", "wasm-tools", "wasmtime",
        "zola",
    }
)  # fmt: skip
_LONGEST_TOOL: Final = max(map(len, THIRD_PARTY_TOOLS))


def cut_comment(code: str) -> str:
    """Return a shell line without its trailing `# comment` (quotes respected).

    One forward pass: a `"` that cannot close makes every `"` its run covers
    unclosable too (each starts at an escape inside that run), so each run is
    read once however many quotes are packed into it.
    """
    if "#" not in code:
        return code
    unclosed = 0  # a `"` before this offset lies in an unclosed string's run
    pos = 0
    while (found := _QUOTE_OR_HASH_RE.search(code, pos)) is not None:
        start = found.start()
        pos = start + 1
        char = code[start]
        if char == "#":
            if _COMMENT_HASH_RE.match(code, start):
                return code[:start]
        elif char == "'":
            close = code.find("'", pos)
            if close >= 0:
                pos = close + 1
        elif start >= unclosed:
            run = _DOUBLE_QUOTED_RE.match(code, start)
            end = run.end() if run else pos  # the pattern always matches here
            if code.startswith('"', end):
                pos = end + 1
            else:
                unclosed = end
    return code


def _names_tool(code: str, start: int, end: int) -> bool:
    """Return whether the artifact-name prefix `code[start:end]` names a tool.

    `code[start:end]` holds no `/=:@`. Its `-` parts that are versions or
    variables are dropped (`sccache-v0.5-` names `sccache`). Read from the end
    and only until the kept parts are longer than any tool name.
    """
    kept: list[str] = []
    size = -1
    pos = end
    while True:
        dash = code.rfind("-", start, pos)
        part = code[dash + 1 if dash >= 0 else start : pos]
        if part and not _NOT_NAME_RE.match(part):
            size += len(part) + 1
            if size > _LONGEST_TOOL:
                return False
            kept.append(part)
        if dash < 0:
            return "-".join(reversed(kept)) in THIRD_PARTY_TOOLS
        pos = dash


class _Downloads:
    """Tell third-party tool downloads among triples met left to right on a line.

    The word before a triple (`[^\\s"'`(]*`) is followed in one forward pass,
    however long it grows: where it starts, where its last `/=@` piece and its
    last `/=:@` part start, and whether a finished piece names a tool.
    """

    __slots__ = ("_code", "_named", "_part", "_piece", "_scanned")

    def __init__(self, code: str) -> None:
        self._code = code
        self._scanned = 0
        self._piece = 0  # start of the word's last `/=@`-separated piece
        self._part = 0  # start of the word's last `/=:@`-separated part
        self._named = False  # an earlier piece of the word is a tool name

    def _advance(self, end: int) -> None:
        code = self._code
        for edge in _WORD_EDGE_RE.finditer(code, self._scanned, end):
            pos = edge.start()
            char = code[pos]
            if char in "/=@":
                piece = (
                    code[self._piece : pos]
                    if pos - self._piece <= _LONGEST_TOOL
                    else ""
                )
                self._named = self._named or piece in THIRD_PARTY_TOOLS
                self._piece = pos + 1
            elif char != ":":
                self._named = False
                self._piece = pos + 1
            self._part = pos + 1
        self._scanned = end

    def third_party(self, start: int) -> bool:
        """Return whether the triple at `start` is a third-party tool's asset."""
        code = self._code
        before = code[start - 1 : start]
        if before == ":":
            return False  # an image tag such as `rustembedded/cross:<triple>`
        # The word before a triple right after a newline is the one before that
        # newline (`$` matches there).
        end = start - 1 if before == "\n" else start
        self._advance(end)
        if self._named:
            return True
        if end - self._piece <= _LONGEST_TOOL and (
            code[self._piece : end] in THIRD_PARTY_TOOLS
        ):
            return True
        return _names_tool(code, self._part, end)


def loose_triples(code: str) -> Iterator[str]:
    """Yield musl triples in `code`, hyphen-prefixed ones included."""
    for match in LOOSE_TRIPLE_RE.finditer(code):
        if _TOOL_SUFFIX_RE.match(code, match.end()) is None:
            yield match["triple"]


# Variables looked up by a direct search before the text is indexed once.
_DIRECT_LOOKUPS: Final = 8


class ArchIndex:
    """The architectures a text assigns to its variables, looked up per variable.

    The assignments of the text are indexed once, by the word each assigns, so
    a variable's lookup reads only the assignments that can be its own.
    """

    __slots__ = ("_sites", "_text", "_values")

    def __init__(self, text: str) -> None:
        self._text = text
        self._sites: dict[str, list[int]] | None = None
        self._values: dict[str, tuple[str, ...]] = {}

    def _index(self) -> dict[str, list[int]]:
        if self._sites is None:
            sites: dict[str, list[int]] = {}
            for match in _ASSIGNED_WORD_RE.finditer(self._text):
                sites.setdefault(match.group(), []).append(match.end())
            for match in _ASSIGNED_DOT_RE.finditer(self._text):
                sites.setdefault("", []).append(match.end())
            self._sites = sites
        return self._sites

    def values(self, var: str) -> tuple[str, ...]:
        """Return the architectures assigned to `var` (`[\\w.]+`), in order.

        The same as `findall` of `\\b<var>\\s*[:?+]?=\\s*["']?(<arch>)(?![\\w-])`:
        such an assignment ends `var` where an indexed word (the part of `var`
        after its last `.`) ends.
        """
        cached = self._values.get(var)
        if cached is not None:
            return cached
        if self._sites is None and len(self._values) < _DIRECT_LOOKUPS:
            values = self._direct(var)  # cheaper than indexing for a few
            self._values[var] = values
            return values
        text = self._text
        found: list[str] = []
        last_end = 0
        for end in self._index().get(var.rpartition(".")[2], ()):
            start = end - len(var)
            if start < last_end or not text.startswith(var, start):
                continue
            match = _ASSIGN_TAIL_RE.match(text, end)
            if match is not None and _WORD_BOUNDARY_RE.match(text, start):
                found.append(match[1])
                last_end = match.end()
        values = tuple(dict.fromkeys(found)) or _DEFAULT_ARCHES
        self._values[var] = values
        return values

    def _direct(self, var: str) -> tuple[str, ...]:
        """`values`, by one search of the text for `var` (linear per variable)."""
        assign = re.compile(
            rf"\b{re.escape(var)}\s*[:?+]?=\s*[\"']?({ARCH_PATTERN})(?![\w-])"
        )
        text = self._text
        found: list[str] = []
        pos = text.find(var)
        while pos >= 0:
            match = assign.match(text, pos)
            if match is not None:
                found.append(match[1])
                pos = text.find(var, match.end())
            else:
                pos = text.find(var, pos + 1)
        return tuple(dict.fromkeys(found)) or _DEFAULT_ARCHES


def arch_values(text: str, var: str) -> tuple[str, ...]:
    """Return the architectures `text` assigns to variable `var` (in order)."""
    return ArchIndex(text).values(var)


def find_mentions(
    code: str, text: str, *, images: bool = False, arches: ArchIndex | None = None
) -> list[Mention]:
    """Return the musl targets named on a shell-like line of `text`.

    With `images`, the line names container images (a `FROM` line), so a
    tool name such as `cross` in it is a build environment, not a download.
    `arches` is the `ArchIndex` of `text` (pass one per text when scanning its
    lines, so that each variable is looked up once).
    """
    if not images and not_a_build(code):
        return []  # an installer's argument, an asset filter, expected output
    arches = arches or ArchIndex(text)
    mentions: dict[str, Mention] = {}
    downloads = _Downloads(code)
    for match in LOOSE_TRIPLE_RE.finditer(code):
        triple = match["triple"]
        if _TOOL_SUFFIX_RE.match(code, match.end()) or (
            not images and downloads.third_party(match.start())
        ):
            continue
        mentions.setdefault(triple, Mention(triple, (triple,)))
    downloads = _Downloads(code)
    for match in TEMPLATED_RE.finditer(code):
        if not images and downloads.third_party(match.start()):
            continue
        var = match["j"] or match["b"] or match["p"] or match["m"]
        values = arches.values(var) if var and var != "arch" else _DEFAULT_ARCHES
        env = match["env"]
        target = match.group()
        resolves = tuple(f"{arch}-unknown-linux-{env}" for arch in values)
        mentions.setdefault(target, Mention(target, resolves, implicit=True))
    return list(mentions.values())


def text_problem(path: str, text: str) -> Problem | None:
    """Return why a text file will not be read, or None."""
    if len(text) > MAX_TEXT_BYTES:
        return Problem(path, 1, f"file too large ({len(text)} characters); not read")
    if "\x00" in text:
        return Problem(path, 1, "binary file (NUL bytes); not read")
    return None


def scan(path: str, text: str) -> SourceResult:
    """Return the musl targets named in a Makefile or justfile."""
    if "-linux-musl" not in text and not any(b in text for b in BUILDER_HINTS):
        return SourceResult()
    problem = text_problem(path, text)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses: list[MuslUse] = []
    arches = ArchIndex(text)
    for number, raw in enumerate(text.split("\n"), 1):
        if raw.lstrip().startswith("#"):
            continue
        code = cut_comment(raw)
        mentions = (
            find_mentions(code, text, arches=arches) if "-linux-musl" in code else []
        )
        if any(b in code for b in BUILDER_HINTS):
            mentions += builder_mentions(code)
        if not mentions:
            continue
        # `cd sub && cargo build ...` / `--manifest-path sub/Cargo.toml`.
        project = command_dir(code, "") or ""
        uses.extend(
            MuslUse(
                path, number, m.target, UseKind.MAKE, m.implicit, m.resolves_to,
                project,
            )
            for m in mentions
        )  # fmt: skip
    return SourceResult(tuple(uses))
