"""Musl builder images and build commands, shared by the CI, Docker and Make scanners.

Images that build for musl with no musl triple in the project's own files
(`blackdex/rust-musl:<arch>-musl`, `rust-musl-cross`, `clux/muslrust`,
`rust:alpine`, Alpine itself), the architectures their tags and CI matrices
name, and the one pattern of a command that runs a Rust build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from bot.core.targets import TRIPLE_RE

ARCH_PATTERN: Final = (
    r"aarch64(?:_be)?|armv5te|armv7|arm|thumbv7neon|hexagon|i[56]86|loongarch64|"
    r"mips(?:64)?(?:el)?|powerpc(?:64(?:le)?)?|riscv(?:32|64)gc|s390x|wasm32|x86_64"
)


# A command that runs a Rust build (not `.cargo/` paths, `$CARGO_HOME`,
# `cargo-foo` names); `make` and `just` run whatever their recipes build.
BUILD_CMD_RE: Final = re.compile(
    r"(?<![\w./$-])(?P<tool>cargo|rustc|rustup|maturin|cross|make|just)(?![\w./-])"
)
# The tools in BUILD_CMD_RE that compile Rust themselves.
RUST_TOOLS: Final = frozenset({"cargo", "rustc", "rustup", "maturin", "cross"})


def runs_build(text: str, *, recipes: bool = True) -> bool:
    """Return whether `text` runs a Rust build (with `recipes`: make/just too)."""
    if not (  # most text: no regex work at all (spelled out: no generator)
        "cargo" in text
        or "rust" in text
        or "maturin" in text
        or "cross" in text
        or "make" in text
        or "just" in text
    ):
        return False
    return any(recipes or m["tool"] in RUST_TOOLS for m in BUILD_CMD_RE.finditer(text))


@dataclass(frozen=True, slots=True)
class Mention:
    """A musl target named on one line: a triple or a templated selector."""

    target: str
    resolves_to: tuple[str, ...]
    implicit: bool = False


ARCH_ALIASES: Final = {
    "amd64": "x86_64",
    "x64": "x86_64",
    "x86_64": "x86_64",
    "x86": "i686",
    "i386": "i686",
    "i686": "i686",
    "i586": "i586",
    "arm64": "aarch64",
    "aarch64": "aarch64",
    "armv7": "armv7",
    "armv7l": "armv7",
    "armv6": "arm",
    "armv6l": "arm",
    "arm": "arm",
    "ppc64le": "powerpc64le",
    "powerpc64le": "powerpc64le",
    "ppc64": "powerpc64",
    "powerpc64": "powerpc64",
    "s390x": "s390x",
    "riscv64": "riscv64gc",
    "riscv64gc": "riscv64gc",
    "loongarch64": "loongarch64",
}
# The musl triple maturin / musllinux builds for a given architecture.
MUSL_FOR_ARCH: Final = {
    "x86_64": "x86_64-unknown-linux-musl",
    "i686": "i686-unknown-linux-musl",
    "i586": "i586-unknown-linux-musl",
    "aarch64": "aarch64-unknown-linux-musl",
    "armv7": "armv7-unknown-linux-musleabihf",
    "arm": "arm-unknown-linux-musleabihf",
    "powerpc64le": "powerpc64le-unknown-linux-musl",
    "powerpc64": "powerpc64-unknown-linux-musl",
    "s390x": "s390x-unknown-linux-musl",
    "riscv64gc": "riscv64gc-unknown-linux-musl",
    "loongarch64": "loongarch64-unknown-linux-musl",
}
# When a templated arch cannot be resolved: the two musl host platforms.
FALLBACK_ARCHES: Final = ("x86_64", "aarch64")
# Any owner: forks and mirrors keep the image's name (`acme/rust-musl-cross`).
MUSL_IMAGE_RE: Final = re.compile(
    r"(?:^|/)(?P<name>[\w.-]+/rust-musl(?:-cross)?)"
    r":(?P<arch>[a-z0-9_]+)-(?P<env>musl(?:eabihf|eabi|abi64|spe)?)(?![a-z])"
)
HOST_MUSL_IMAGE_RE: Final = re.compile(
    r"(?:^|/)[\w.-]+/(?:muslrust|rust-musl-builder)(?::|$)"
)
RUST_ALPINE_RE: Final = re.compile(r"(?:^|/)rust:[^\s/]*alpine")
ALPINE_RE: Final = re.compile(r"(?:^|/)alpine(?::|$)")


def musl_triple_for(value: str) -> str | None:
    """Return the musl triple an arch (`x86_64`, `arm64`) or triple names, or None."""
    value = value.strip().strip("'\"")
    if TRIPLE_RE.fullmatch(value):
        return value
    arch = value.split("-", 1)[0].lower()
    canonical = ARCH_ALIASES.get(arch)
    return MUSL_FOR_ARCH.get(canonical) if canonical else None


# Images that build for musl with no musl triple in the project's own files.
_TAGGED_BUILDERS: Final = frozenset(
    {"blackdex/rust-musl", "messense/rust-musl-cross", "rust-cross/rust-musl-cross"}
)
_HOST_BUILDERS: Final = frozenset(
    {"clux/muslrust", "ekidd/rust-musl-builder", "emk/rust-musl-builder"}
)
_TAGGED_NAMES: Final = frozenset({"rust-musl", "rust-musl-cross"})
_HOST_NAMES: Final = frozenset({"muslrust", "rust-musl-builder"})
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
    # Forks and mirrors keep the name (`someone/rust-musl-cross:<arch>-musl`).
    name = repo.rpartition("/")[2]
    if repo in _TAGGED_BUILDERS or (name in _TAGGED_NAMES and "/" in repo):
        match = _BUILDER_TAG_RE.match(tag)
        if match is None:
            return None, tag
        triple = f"{match['arch']}-unknown-linux-{match['env']}"
        return Mention(f"{repo}:{match.group()}", (triple,), implicit=True), tag
    if repo in _HOST_BUILDERS or (name in _HOST_NAMES and "/" in repo):
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
