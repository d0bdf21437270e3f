"""Scan Dockerfiles / Containerfiles for musl builds.

Explicit triples on active lines (RUN, ENV, ARG, FROM image names, artifact
paths), templated triples, musl builder images (`blackdex/rust-musl`,
`rust-musl-cross`, `clux/muslrust`) and Alpine build stages, whose Rust host
target is musl. An Alpine stage that only runs the built binary is not a build.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from bot.core.sources import Hint, HintKind, MuslUse, SourceResult, UseKind
from bot.core.sources.builders import (
    Mention,
    image_mention,
    normalise_image,
    runs_build,
)
from bot.core.sources.cargo_config import dynamic_flag
from bot.core.sources.make import (
    ArchIndex,
    cut_comment,
    find_mentions,
    text_problem,
)
from bot.core.sources.shell import (
    BUILD_RUN_RE,
    continues_download,
    join_dir,
    manifest_dir,
)
from bot.core.sources.shell import apk_adds_rust as _apk_adds_rust

_TRIGGERS: Final = (
    "-linux-musl",
    "alpine",
    "rust-musl",
    "muslrust",
    "crt-static",
    "=musl",  # `ARG LIBC=musl`: a triple composed from variables
    "-musl}",  # `${LIBC:-musl}`
)
_HEREDOC_RE: Final = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
# `$NAME`, `${NAME}`, `${NAME:-default}` (a default only inside braces).
_VAR_RE: Final = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_ASSIGN_RE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)")
_RUST_VERSION_RE: Final = re.compile(r"(?<![\d.])\d+\.\d+(?:\.\d+)?(?![\d.])")
_ALPINE_VERSION_RE: Final = re.compile(r"alpine:?(\d+\.\d+)")
_PLATFORM_ARCH: Final = {"arm64": "aarch64", "aarch64": "aarch64", "amd64": "x86_64"}
_CD_IN_RUN_RE: Final = re.compile(r"(?:^|[;&|(]|\bRUN\b)\s*cd\s+([^\s;&|()]+)")
_MANIFEST_IN_RUN_RE: Final = re.compile(r"--manifest-path(?:=|\s+)([^\s;&|()]+)")


@dataclass(slots=True)
class _Stage:
    line: int
    image: str  # normalised: no registry, no `library/`, no digest
    alias: str
    platform_arch: str
    builds: bool = False
    # (instruction, code) of each RUN and ADD line: read by `_runtime_only`
    # only for a stage that names a triple.
    commands: list[tuple[str, str]] = field(default_factory=list)
    workdir: str = "/"  # the container's working directory (WORKDIR)
    # (working directory, arguments) of each COPY/ADD, in order: read by
    # `_copies` only when a build's directory is asked for, into `copies`
    # (container directory, repository directory) up to `copies_read`.
    copy_args: list[tuple[str, str]] = field(default_factory=list)
    copies: list[tuple[str, str]] = field(default_factory=list)
    copies_read: int = 0
    project: str | None = None  # where its first Rust build runs, in the repo


@dataclass(frozen=True, slots=True)
class _Found:
    """A musl mention on one line, decided once its stage is known."""

    line: int
    mention: Mention
    stage: int  # index in `stages`, -1 before the first FROM
    instruction: str


def _mark_builds(stages: list[_Stage]) -> None:
    """Mark a stage as building when a stage built `FROM` it compiles Rust."""
    building: set[str] = set()  # images of later stages that build
    for stage in reversed(stages):
        if stage.alias and stage.alias.lower() in building:
            stage.builds = True
        if stage.builds:
            building.add(stage.image.lower())


# At most this many spellings of one line are tried (each variable with
# several values multiplies them).
_MAX_VARIANTS: Final = 16
_FETCH_RE: Final = re.compile(
    r"\b(?:curl|wget|aria2c|gh\s+release\s+download)\b|[a-z]+://", re.IGNORECASE
)
# Literals one of which a line needs before `_FETCH_RE` can match (the regex,
# case-blind and without a literal prefix, is slow on every RUN line).
_FETCH_WORDS: Final = ("curl", "wget", "aria2c", "release")


def _fetches(code: str) -> bool:
    """Return whether a RUN or ADD line downloads something."""
    if "://" not in code:
        low = code.lower()
        if not any(word in low for word in _FETCH_WORDS):
            return False
    return _FETCH_RE.search(code) is not None


_C_BUILD_RE: Final = re.compile(
    r"(?<![\w.-])(?:\./configure|make|cmake|meson|ninja|gcc|clang|cc)(?![\w.-])"
)


def _runtime_only(stage: _Stage) -> bool:
    """Return whether a stage downloads something yet compiles nothing.

    Compiling is a Rust build, a C build (`./configure`, `make`, `gcc`) or
    installing Rust (rustup).
    """
    if stage.builds:
        return False
    fetches = False
    for instruction, code in stage.commands:
        if instruction == "RUN" and (
            "rustup" in code or _C_BUILD_RE.search(code) is not None
        ):
            return False
        fetches = fetches or _fetches(code)
    return fetches


def _expand_all(text: str, values: Mapping[str, list[str]]) -> list[str]:
    """Return `text` with its `$VAR` / `${VAR:-default}` references expanded.

    A variable with several values (its default and those the repository's
    CI passes with `--build-arg`) gives one spelling per value; one without a
    known value keeps its default, else the reference itself.
    """
    if "$" not in text:
        return [text]
    refs = list(dict.fromkeys(m[1] or m[3] for m in _VAR_RE.finditer(text)))
    choices = [values.get(ref) or [""] for ref in refs]
    out: list[str] = []
    for combo in itertools.islice(itertools.product(*choices), _MAX_VARIANTS):
        chosen = dict(zip(refs, combo, strict=True))

        def sub(match: re.Match[str], chosen: dict[str, str] = chosen) -> str:
            return chosen.get(match[1] or match[3]) or match[2] or match.group()

        out.append(_VAR_RE.sub(sub, text))
    return list(dict.fromkeys(out))


def _expand(text: str, values: Mapping[str, list[str]]) -> str:
    """Return the spelling of `text` that names a musl image, else the first."""
    variants = _expand_all(text, values)
    for variant in variants:
        if "musl" in variant or "alpine" in variant:
            return variant
    return variants[0]


def _assign(rest: str, values: dict[str, list[str]]) -> None:
    """Record the defaults an ARG or ENV instruction gives its variables."""
    pairs = _ASSIGN_RE.findall(rest)
    if not pairs and " " in rest.strip() and "=" not in rest:
        name, _, value = rest.strip().partition(" ")  # legacy `ENV NAME value`
        pairs = [(name, value.strip())]
    for name, raw in pairs:
        value = raw.strip("\"'")
        if not value:
            continue
        # A default may refer to another variable (`ENV T=$ARCH-...`).
        for spelled in _expand_all(value, values):
            known = values.setdefault(name, [])
            if spelled not in known:
                known.append(spelled)


def _may_spell_musl(code: str, values: Mapping[str, list[str]]) -> bool:
    """Return whether expanding the variables of `code` may spell a musl target.

    A composed triple (`-linux-$LIBC`), an image, or a variable whose value
    names musl (`--target $TARGET`).
    """
    if "-linux-" in code or "FROM" in code or "from" in code:
        return True
    return any(
        "musl" in value
        for match in _VAR_RE.finditer(code)
        for value in values.get(match[1] or match[3], ())
    )


def _container_path(base: str, rel: str) -> str:
    return posixpath.normpath(posixpath.join(base, rel.strip("\"'")))


def _copies(stage: _Stage) -> list[tuple[str, str]]:
    """Return (container dir, repository dir) of each COPY/ADD from the context."""
    copies = stage.copies
    for workdir, rest in stage.copy_args[stage.copies_read :]:
        words = [w for w in rest.split() if not w.startswith("--")]
        if "--from" in rest or len(words) < 2 or words[0].startswith("["):
            continue  # from another stage or image, or the JSON form: not the repo
        *sources, dest = words
        dest = _container_path(workdir, dest)
        for source in sources:
            if "://" in source or "$" in source:
                continue
            repo = join_dir("", source.strip("\"'"))
            if repo is None:
                continue
            name = posixpath.basename(repo)
            if "." in name or "*" in source:  # a file (`Cargo.toml`): its directory
                repo = posixpath.dirname(repo)
            copies.append((dest, repo))
    stage.copies_read = len(stage.copy_args)
    return copies


def _repo_dir(stage: _Stage, container: str) -> str | None:
    """Return the repository directory copied to container directory `container`."""
    best: tuple[int, str] | None = None
    for dest, repo in _copies(stage):
        if container == dest or container.startswith(dest.rstrip("/") + "/"):
            rest = container[len(dest) :].strip("/")
            joined = join_dir(repo, rest) if rest else repo
            if joined is not None and (best is None or len(dest) > best[0]):
                best = (len(dest), joined)
    return best[1] if best is not None else None


def _build_project(stage: _Stage, code: str) -> str | None:
    """Return where in the repository a RUN line's Rust build runs, if known."""
    container = stage.workdir
    if "cd" in code:  # (the pattern has no word to skip ahead to)
        for match in _CD_IN_RUN_RE.finditer(code):
            container = _container_path(container, match[1])
    manifest = _MANIFEST_IN_RUN_RE.search(code)
    if manifest is not None:
        container = _container_path(container, manifest_dir(manifest[1]))
    return _repo_dir(stage, container)


def _toolchain(tag: str) -> str:
    version = _RUST_VERSION_RE.search(tag)
    if version:
        return version.group()
    return "nightly" if "nightly" in tag else "beta" if "beta" in tag else "stable"


def _alpine_version(image: str) -> str:
    match = _ALPINE_VERSION_RE.search(image)
    return f"alpine:{match[1]}" if match else "alpine:latest"


def _parse_from(args: str, build_args: Mapping[str, list[str]]) -> tuple[str, str, str]:
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
    return scan_with_args(path, text, {})


def scan_with_args(
    path: str, text: str, ci_args: Mapping[str, tuple[str, ...]]
) -> SourceResult:
    """Return the musl uses and hints in a Dockerfile.

    `ci_args` holds the `--build-arg NAME=VALUE` values the repository's CI
    passes (by name): they are tried besides each variable's default.
    """
    musl_args = any("musl" in v for vs in ci_args.values() for v in vs)
    if not musl_args and not any(trigger in text for trigger in _TRIGGERS):
        return SourceResult()
    problem = text_problem(path, text)
    if problem is not None:
        return SourceResult(problems=(problem,))
    found: list[_Found] = []
    hints: list[Hint] = []
    stages: list[_Stage] = []
    values: dict[str, list[str]] = {k: list(v) for k, v in ci_args.items()}
    instruction = ""
    continued = False
    heredoc: str | None = None
    pending_heredoc: str | None = None
    arches = ArchIndex(text)
    here = posixpath.dirname(path)

    # Whole-text checks rule out most per-line regex work: each regex below
    # needs a literal that the file may not hold at all.
    has_heredoc = "<<" in text
    has_flag = "crt-static" in text or "link-self-contained" in text
    has_apk = "apk" in text
    has_vars = "$" in text and ("musl" in text or musl_args)

    lines = text.split("\n")
    for number, raw in enumerate(lines, 1):
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
                    image, alias, arch = _parse_from(rest, values)
                    stages.append(_Stage(number, image, alias, arch))
                elif instruction in ("ARG", "ENV"):
                    _assign(rest, values)
                elif instruction == "WORKDIR" and stages:
                    stages[-1].workdir = _container_path(stages[-1].workdir, rest)
                elif instruction in ("COPY", "ADD") and stages:
                    stages[-1].copy_args.append((stages[-1].workdir, rest))
            if instruction in ("RUN", "CMD", "ENTRYPOINT"):
                code = cut_comment(raw)
            continued = stripped.endswith("\\")
            heredoc_start = (
                _HEREDOC_RE.search(code)
                if has_heredoc and "<<" in code and instruction in ("RUN", "COPY")
                else None
            )
            pending_heredoc = heredoc_start[1] if heredoc_start else pending_heredoc
            if not continued and pending_heredoc is not None:
                heredoc, pending_heredoc = pending_heredoc, None
        stage = stages[-1] if stages else None
        if stage is not None and instruction in ("RUN", "ADD"):
            stage.commands.append((instruction, code))
        if stage is not None and instruction in ("RUN", "CMD", "ENTRYPOINT"):
            if not stage.builds and (
                runs_build(code, recipes=False)
                or (has_apk and "apk" in code and _apk_adds_rust(code))
            ):
                stage.builds = True
            if stage.project is None and stage.builds and BUILD_RUN_RE.search(code):
                stage.project = _build_project(stage, code)
        images = instruction == "FROM"
        mentions = (
            find_mentions(code, text, images=images, arches=arches)
            if "-linux-musl" in code
            else []
        )
        if not mentions and has_vars and "$" in code and _may_spell_musl(code, values):
            # A triple spelled through ARG/ENV values (`$ARCH-unknown-linux-$LIBC`).
            for spelled in _expand_all(code, values):
                if spelled != code and "-linux-musl" in spelled:
                    mentions += [
                        Mention(m.target, m.resolves_to, implicit=True)
                        for m in find_mentions(
                            spelled, text, images=images, arches=arches
                        )
                    ]
        if mentions and instruction == "RUN" and continues_download(lines, number - 1):
            mentions = []  # an argument of a download or of another tool's installer
        for mention in mentions:
            found.append(_Found(number, mention, len(stages) - 1, instruction))
        flag = dynamic_flag(code) if has_flag else None
        if flag:
            hints.append(Hint(path, number, HintKind.DYNAMIC_MUSL, flag))

    _mark_builds(stages)
    # A stage that compiles nothing but downloads something (a runtime image
    # fetching the project's own released musl archive) names triples as
    # data: none of its lines builds, except a COPY of a built artifact.
    named = {item.stage for item in found if item.stage >= 0}
    runtime = {index for index in named if _runtime_only(stages[index])}
    uses: dict[tuple[int, str], MuslUse] = {}

    def project_of(index: int) -> str:
        """Return where the stage's build runs (a later stage's, if it has none).

        `COPY . .` copies the Dockerfile's own directory, as `docker build
        dir/` sends it; a COPY of a sub-directory names it from the
        repository root, the usual context of a Dockerfile that picks one.
        """
        later = [s.project for s in stages[max(index, 0) :] if s.project is not None]
        return later[0] if later and later[0] else here

    def add(line: int, mention: Mention, index: int) -> None:
        key = (line, mention.target)
        if key not in uses:
            uses[key] = MuslUse(
                path, line, mention.target, UseKind.DOCKER, mention.implicit,
                mention.resolves_to, project_of(index),
            )  # fmt: skip

    for item in found:
        if item.stage in runtime and item.instruction != "COPY":
            continue
        add(item.line, item.mention, item.stage)
    explicit = {line for line, _ in uses}
    for index, stage in enumerate(stages):
        builder, builder_tag = image_mention(stage.image, stage.platform_arch)
        if builder is not None:
            if stage.line not in explicit:
                add(stage.line, builder, index)
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
            add(stage.line, Mention(selector, (triple,), implicit=True), index)
        alpine_version = _alpine_version(stage.image)
        hints.append(Hint(path, stage.line, HintKind.SYSTEM_MUSL, alpine_version))
    return SourceResult(tuple(uses.values()), tuple(hints))
