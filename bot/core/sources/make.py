"""Scan the root `Makefile` and `justfile` for musl targets.

Also home of the shell-line triple finder the Dockerfile scanner shares: strict
triples, hyphen-prefixed artifact names (`delta-1.0-x86_64-unknown-linux-musl`)
unless they name a third-party tool download, and templated triples
(`${ARCH}-unknown-linux-musl`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bot.core.sources import MuslUse, Problem, SourceResult, UseKind
from bot.core.targets import TRIPLE_RE

MAX_TEXT_BYTES: Final = 1_000_000

ARCH_PATTERN: Final = (
    r"aarch64(?:_be)?|armv5te|armv7|arm|thumbv7neon|hexagon|i[56]86|loongarch64|"
    r"mips(?:64)?(?:el)?|powerpc(?:64(?:le)?)?|riscv(?:32|64)gc|s390x|wasm32|x86_64"
)
# TRIPLE_RE without the `-` in its look-behind: finds `rust-cross-<triple>` image
# names and `<tool>-<version>-<triple>.tar.gz` artifact names; callers classify.
LOOSE_TRIPLE_RE: Final = re.compile(
    TRIPLE_RE.pattern.replace("(?<![A-Za-z0-9_-])", "(?<![A-Za-z0-9_])", 1)
)
# `${ARCH}-unknown-linux-musl`, `"$ARCH"-...`, `$(ARCH)-...`, `{{arch()}}-...`.
TEMPLATED_RE: Final = re.compile(
    r"(?<![A-Za-z0-9_-])(?P<sel>(?P<q>\")?(?:\$\{\{[^}\n]*\}\}|\{\{\s*(?P<j>[\w.]+)"
    r"(?:\(\))?\s*\}\}|\{\{[^}\n]*\}\}|\$\$?\{(?P<b>\w+)[^}\s]*\}|\$\$?(?P<p>\w+)|"
    r"\$\((?P<m>\w+)\)|\$\([^)\n]*\)|`[^`\n]*`)(?(q)\"))-unknown-linux-(?P<env>musl(?:eabihf|eabi|abi64|spe)?)(?![A-Za-z0-9_])"
)
_TOOL_SUFFIX_RE: Final = re.compile(
    r"-(?:gcc|g\+\+|cc|c\+\+|cpp|ld|ar|as|nm|strip|objcopy|objdump|ranlib|"
    r"readelf|clang|clang\+\+|gfortran)(?![A-Za-z0-9_+])"
)
_TOKEN_START_RE: Final = re.compile(r"[^\s\"'`(]*$")
_TOKEN_CHARS_RE: Final = re.compile(r"[^\s\"'`(]*")
# The separators `_TOKEN_START_RE` stops at that shell lines actually use.
_TOKEN_STOPS: Final = (" ", "\t", '"', "'", "`", "(")
_COMMENT_RE: Final = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|(?<!\S)#")
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


@dataclass(frozen=True, slots=True)
class Mention:
    """A musl target named on one line: a triple or a templated selector."""

    target: str
    resolves_to: tuple[str, ...]
    implicit: bool = False


def cut_comment(code: str) -> str:
    """Return a shell line without its trailing `# comment` (quotes respected)."""
    if "#" not in code:
        return code
    for match in _COMMENT_RE.finditer(code):
        if match.group() == "#":
            return code[: match.start()]
    return code


def _token_before(code: str, end: int) -> str:
    """Return the word of `code` that ends at `end` (`_TOKEN_START_RE`'s match).

    The regex is tried at every offset of the line; finding the last common
    separator and checking the rest gives the same word in one pass.
    """
    start = max(code.rfind(stop, 0, end) for stop in _TOKEN_STOPS) + 1
    if _TOKEN_CHARS_RE.fullmatch(code, start, end) is not None:
        return code[start:end]
    word = _TOKEN_START_RE.search(code, 0, end)  # a rarer separator (\f, NBSP...)
    return word.group() if word else ""


def _tool_name(token: str) -> str:
    """Return the program name in an artifact-name prefix (`sccache-v0.5-`)."""
    token = re.split(r"[/=:@]", token)[-1]
    parts = [
        part
        for part in token.split("-")
        if part and not re.match(r"[v+]?\d|.*[$}{]", part)
    ]
    return "-".join(parts)


def _third_party(code: str, start: int) -> bool:
    if code[start - 1 : start] == ":":
        return False  # an image tag such as `rustembedded/cross:<triple>`
    token = _token_before(code, start)
    names = set(re.split(r"[/=@]", token))
    if names & THIRD_PARTY_TOOLS:
        return True
    return _tool_name(token) in THIRD_PARTY_TOOLS


def loose_triples(code: str) -> Iterator[str]:
    """Yield musl triples in `code`, hyphen-prefixed ones included."""
    for match in LOOSE_TRIPLE_RE.finditer(code):
        if _TOOL_SUFFIX_RE.match(code, match.end()) is None:
            yield match["triple"]


def arch_values(text: str, var: str) -> tuple[str, ...]:
    """Return the architectures `text` assigns to variable `var` (in order)."""
    assign = re.compile(
        rf"\b{re.escape(var)}\s*[:?+]?=\s*[\"']?({ARCH_PATTERN})(?![\w-])"
    )
    # `findall` without its try at every offset: a match starts where `var` is.
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


def find_mentions(code: str, text: str, *, images: bool = False) -> list[Mention]:
    """Return the musl targets named on a shell-like line of `text`.

    With `images`, the line names container images (a `FROM` line), so a
    tool name such as `cross` in it is a build environment, not a download.
    """
    mentions: dict[str, Mention] = {}
    for match in LOOSE_TRIPLE_RE.finditer(code):
        triple = match["triple"]
        if _TOOL_SUFFIX_RE.match(code, match.end()) or (
            not images and _third_party(code, match.start())
        ):
            continue
        mentions.setdefault(triple, Mention(triple, (triple,)))
    for match in TEMPLATED_RE.finditer(code):
        if not images and _third_party(code, match.start()):
            continue
        var = match["j"] or match["b"] or match["p"] or match["m"]
        arches = arch_values(text, var) if var and var != "arch" else _DEFAULT_ARCHES
        env = match["env"]
        target = match.group()
        resolves = tuple(f"{arch}-unknown-linux-{env}" for arch in arches)
        mentions.setdefault(target, Mention(target, resolves, implicit=True))
    return list(mentions.values())


# Images that build for musl with no musl triple in the project's own files.
_TAGGED_BUILDERS: Final = frozenset(
    {"blackdex/rust-musl", "messense/rust-musl-cross", "rust-cross/rust-musl-cross"}
)
_HOST_BUILDERS: Final = frozenset(
    {"clux/muslrust", "ekidd/rust-musl-builder", "emk/rust-musl-builder"}
)
_BUILDER_TAG_RE: Final = re.compile(
    rf"(?P<arch>{ARCH_PATTERN})-(?P<env>musl(?:eabihf|eabi|abi64|spe)?)(?![A-Za-z0-9_])"
)
_BUILDER_REF_RE: Final = re.compile(
    r"(?<![\w./-])(?:[\w.-]+(?::\d+)?/)?(?:clux/muslrust|e(?:kidd|mk)/rust-musl-builder|"
    r"blackdex/rust-musl|(?:messense|rust-cross)/rust-musl-cross)(?::[\w.-]+)?(?![\w/-])"
)
BUILDER_HINTS: Final = ("muslrust", "rust-musl")


def normalise_image(ref: str) -> str:
    """Return `ref` without registry host, `library/` prefix and digest."""
    ref = ref.split("@", 1)[0]
    parts = ref.split("/")
    if len(parts) > 1 and (
        "." in parts[0] or ":" in parts[0] or parts[0] == "localhost"
    ):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def image_mention(image: str, arch: str) -> tuple[Mention | None, str]:
    """Return the implicit use a musl builder image makes, and its tag."""
    repo, _, tag = image.partition(":")
    if repo in _TAGGED_BUILDERS:
        match = _BUILDER_TAG_RE.match(tag)
        if match is None:
            return None, tag
        triple = f"{match['arch']}-unknown-linux-{match['env']}"
        return Mention(f"{repo}:{match.group()}", (triple,), implicit=True), tag
    if repo in _HOST_BUILDERS:
        triple = f"{arch}-unknown-linux-musl"
        return Mention(image, (triple,), implicit=True), tag
    return None, tag


def builder_mentions(code: str) -> list[Mention]:
    """Return the musl builder images a shell line runs (`docker run clux/muslrust`)."""
    found = (
        image_mention(normalise_image(m.group()), "x86_64")[0]
        for m in _BUILDER_REF_RE.finditer(code)
    )
    return [mention for mention in found if mention is not None]


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
    for number, raw in enumerate(text.split("\n"), 1):
        if raw.lstrip().startswith("#"):
            continue
        code = cut_comment(raw)
        mentions = find_mentions(code, text) if "-linux-musl" in code else []
        if any(b in code for b in BUILDER_HINTS):
            mentions += builder_mentions(code)
        uses.extend(
            MuslUse(path, number, m.target, UseKind.MAKE, m.implicit, m.resolves_to)
            for m in mentions
        )
    return SourceResult(tuple(uses))
