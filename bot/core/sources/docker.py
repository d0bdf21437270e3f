"""Scan Dockerfiles / Containerfiles for musl builds.

Explicit triples on active lines (RUN, ENV, ARG, FROM image names, artifact
paths), templated triples, musl builder images (`blackdex/rust-musl`,
`rust-musl-cross`, `clux/muslrust`) and Alpine build stages, whose Rust host
target is musl. An Alpine stage that only runs the built binary is not a build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, SourceResult, UseKind
from bot.core.sources.cargo_config import dynamic_flag
from bot.core.sources.make import (
    ArchIndex,
    Mention,
    cut_comment,
    find_mentions,
    image_mention,
    normalise_image,
    text_problem,
)

_TRIGGERS: Final = ("-linux-musl", "alpine", "rust-musl", "muslrust", "crt-static")
_HEREDOC_RE: Final = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
_VAR_RE: Final = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}?")
_ASSIGN_RE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)")
_RUST_VERSION_RE: Final = re.compile(r"(?<![\d.])\d+\.\d+(?:\.\d+)?(?![\d.])")
_ALPINE_VERSION_RE: Final = re.compile(r"alpine:?(\d+\.\d+)")
# A command that compiles Rust (not `.cargo/` paths or `$CARGO_HOME`).
_BUILD_CMD_RE: Final = re.compile(
    r"(?<![\w./$-])(?:cargo|rustc|rustup|maturin|cross)(?![\w./-])"
)
# The words `_BUILD_CMD_RE` looks for, without its context checks: a cheap
# first pass (most lines name none of them).
_BUILD_WORDS_RE: Final = re.compile(r"cargo|rust|maturin|cross")
# `apk add ... rust|cargo` within one `;&|`-separated command (`_apk_adds_rust`).
_APK_RE: Final = re.compile(r"\bapk\b")
_ADD_RE: Final = re.compile(r"\badd\b")
_RUST_PACKAGE_RE: Final = re.compile(r"(?<![\w-])(?:rust|cargo)(?![\w-])")
_COMMAND_END_RE: Final = re.compile(r"[;&|]")
_PLATFORM_ARCH: Final = {"arm64": "aarch64", "aarch64": "aarch64", "amd64": "x86_64"}


@dataclass(slots=True)
class _Stage:
    line: int
    image: str  # normalised: no registry, no `library/`, no digest
    alias: str
    platform_arch: str
    builds: bool = False


def _mark_builds(stages: list[_Stage]) -> None:
    """Mark a stage as building when a stage built `FROM` it compiles Rust."""
    building: set[str] = set()  # images of later stages that build
    for stage in reversed(stages):
        if stage.alias and stage.alias.lower() in building:
            stage.builds = True
        if stage.builds:
            building.add(stage.image.lower())


def _apk_adds_rust(code: str) -> bool:
    """Return whether `code` runs `apk ... add ... rust|cargo` in one command.

    The same as searching `\\bapk\\b[^;&|]*\\badd\\b[^;&|]*<rust|cargo>`, in
    linear time: in each command the first `apk`, then the first `add` after it
    leave the most room for what must follow.
    """
    pos = 0
    while (apk := _APK_RE.search(code, pos)) is not None:
        stop = _COMMAND_END_RE.search(code, apk.end())
        end = stop.start() if stop else len(code)
        add = _ADD_RE.search(code, apk.end(), end)
        if add is not None and _RUST_PACKAGE_RE.search(code, add.end(), end):
            return True
        pos = end + 1
    return False


def _expand(text: str, args: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        return args.get(match[1]) or match[2] or match.group()

    return _VAR_RE.sub(sub, text)


def _toolchain(tag: str) -> str:
    version = _RUST_VERSION_RE.search(tag)
    if version:
        return version.group()
    return "nightly" if "nightly" in tag else "beta" if "beta" in tag else "stable"


def _alpine_version(image: str) -> str:
    match = _ALPINE_VERSION_RE.search(image)
    return f"alpine:{match[1]}" if match else "alpine:latest"


def _parse_from(args: str, build_args: dict[str, str]) -> tuple[str, str, str]:
    words = args.split()
    platform = ""
    while words and words[0].startswith("--"):
        if words[0].startswith("--platform="):
            platform = words[0].split("=", 1)[1]
        words = words[1:]
    image = _expand(words[0], build_args) if words else ""
    alias = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
    arch = _PLATFORM_ARCH.get(
        _expand(platform, build_args).rpartition("/")[2], "x86_64"
    )
    return normalise_image(image), alias, arch


def scan(path: str, text: str) -> SourceResult:
    """Return the musl uses and hints in a Dockerfile."""
    if not any(trigger in text for trigger in _TRIGGERS):
        return SourceResult()
    problem = text_problem(path, text)
    if problem is not None:
        return SourceResult(problems=(problem,))
    uses: list[MuslUse] = []
    hints: list[Hint] = []
    stages: list[_Stage] = []
    build_args: dict[str, str] = {}
    instruction = ""
    continued = False
    heredoc: str | None = None
    pending_heredoc: str | None = None
    arches = ArchIndex(text)

    # Whole-text checks rule out most per-line regex work: each regex below
    # needs a literal that the file may not hold at all.
    has_heredoc = "<<" in text
    has_flag = "crt-static" in text or "link-self-contained" in text
    has_apk = "apk" in text

    def add(line: int, mention: Mention) -> None:
        uses.append(
            MuslUse(
                path, line, mention.target, UseKind.DOCKER, mention.implicit,
                mention.resolves_to,
            )
        )  # fmt: skip

    for number, raw in enumerate(text.split("\n"), 1):
        stripped = raw.strip()
        if heredoc is not None:
            if stripped == heredoc:
                heredoc = None
                continue
            code = "" if stripped.startswith("#") else cut_comment(raw)
        elif not stripped or stripped.startswith(("#", "{#")):
            continue
        else:
            code = raw
            if not continued:
                word, _, rest = stripped.partition(" ")
                instruction = word.upper()
                if instruction == "FROM":
                    image, alias, arch = _parse_from(rest, build_args)
                    stages.append(_Stage(number, image, alias, arch))
                elif instruction in ("ARG", "ENV") and not stages:
                    build_args.update(
                        (k, v.strip("\"'")) for k, v in _ASSIGN_RE.findall(rest)
                    )
            if instruction in ("RUN", "CMD", "ENTRYPOINT"):
                code = cut_comment(raw)
            continued = stripped.endswith("\\")
            found = (
                _HEREDOC_RE.search(code)
                if has_heredoc and "<<" in code and instruction in ("RUN", "COPY")
                else None
            )
            pending_heredoc = found[1] if found else pending_heredoc
            if not continued and pending_heredoc is not None:
                heredoc, pending_heredoc = pending_heredoc, None
        if (
            stages
            and not stages[-1].builds
            and instruction in ("RUN", "CMD", "ENTRYPOINT")
            and (
                (_BUILD_WORDS_RE.search(code) and _BUILD_CMD_RE.search(code))
                or (has_apk and "apk" in code and _apk_adds_rust(code))
            )
        ):
            stages[-1].builds = True
        if "-linux-musl" in code:
            images = instruction == "FROM"
            for mention in find_mentions(code, text, images=images, arches=arches):
                add(number, mention)
        flag = dynamic_flag(code) if has_flag else None
        if flag:
            hints.append(Hint(path, number, HintKind.DYNAMIC_MUSL, flag))

    explicit = {use.line for use in uses}
    _mark_builds(stages)
    for stage in stages:
        builder, builder_tag = image_mention(stage.image, stage.platform_arch)
        if builder is not None:
            if stage.line not in explicit:
                add(stage.line, builder)
            toolchain = _toolchain(builder_tag)
            hints.append(Hint(path, stage.line, HintKind.TOOLCHAIN, toolchain))
            continue
        repo, _, tag = stage.image.partition(":")
        is_rust = repo == "rust"
        alpine = "alpine" in repo.rpartition("/")[2] or (is_rust and "alpine" in tag)
        if not alpine or not stage.builds:
            continue
        if is_rust:
            toolchain = _toolchain(tag.split("alpine")[0])
            hints.append(Hint(path, stage.line, HintKind.TOOLCHAIN, toolchain))
        if stage.line not in explicit:
            triple = f"{stage.platform_arch}-unknown-linux-musl"
            selector = stage.image if tag or not is_rust else "rust:alpine"
            add(stage.line, Mention(selector, (triple,), implicit=True))
        alpine_version = _alpine_version(stage.image)
        hints.append(Hint(path, stage.line, HintKind.SYSTEM_MUSL, alpine_version))
    return SourceResult(tuple(uses), tuple(hints))
