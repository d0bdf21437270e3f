"""Tests for the non-YAML musl scanners against the real corpus and edge cases."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.core.sources import (
    HintKind,
    SourceResult,
    UseKind,
    cargo_config,
    cross,
    dist,
    docker,
    make,
    toolchain,
)
from tests.paths import CORPUS

CASES = sorted(p for p in CORPUS.iterdir() if (p / "expected.json").is_file())

Scanner = Callable[[str, str], SourceResult]
_DOCKER_RE = re.compile(
    r"(?:^|/)(?:Dockerfile[^/]*|[^/]*\.[Dd]ockerfile|Containerfile[^/]*)$"
)


def scanner_for(path: str) -> Scanner | None:
    """Map a repository-relative path to its scanner (the lead's dispatch)."""
    if path in (".cargo/config.toml", ".cargo/config"):
        return cargo_config.scan
    if path in ("rust-toolchain.toml", "rust-toolchain"):
        return toolchain.scan
    if path == "Cross.toml":
        return cross.scan
    if path in ("Cargo.toml", "dist-workspace.toml", "dist.toml"):
        return dist.scan
    if path in ("Makefile", "justfile"):
        return make.scan
    if _DOCKER_RE.search(path):
        return docker.scan
    return None


def _scan_case(case: Path) -> dict[tuple[str, int], list[str]]:
    found: dict[tuple[str, int], list[str]] = {}
    for file in sorted(case.rglob("*")):
        rel = file.relative_to(case).as_posix()
        scanner = scanner_for(rel)
        if scanner is None or not file.is_file():
            continue
        result = scanner(rel, file.read_text(encoding="utf-8", errors="replace"))
        assert result.problems == ()
        for use in result.uses:
            found.setdefault((use.path, use.line), []).append(use.target)
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(case: Path) -> None:
    expected = json.loads((case / "expected.json").read_text())
    found = _scan_case(case)
    mine = [u for u in expected["musl_uses"] if scanner_for(u["path"])]
    missing = [u for u in mine if (u["path"], u["line"]) not in found]
    assert missing == []
    for use in mine:
        assert use["target"] in found[use["path"], use["line"]]
    traps = {(t["path"], t["line"]) for t in expected["traps"]}
    assert sorted(traps & found.keys()) == []


def test_corpus_recall_is_total() -> None:
    expected_total = hits = 0
    for case in CASES:
        expected = json.loads((case / "expected.json").read_text())
        found = _scan_case(case)
        for use in expected["musl_uses"]:
            if scanner_for(use["path"]):
                expected_total += 1
                hits += (use["path"], use["line"]) in found
    assert expected_total >= 90
    assert hits == expected_total


def _uses(result: SourceResult) -> list[tuple[int, str]]:
    return [(u.line, u.target) for u in result.uses]


def _hints(result: SourceResult) -> list[tuple[int, HintKind, str]]:
    return [(h.line, h.kind, h.value) for h in result.hints]


# --- .cargo/config.toml -----------------------------------------------------


def test_cargo_config_build_target_string_and_array() -> None:
    text = (
        "[build]\n"
        'target = "x86_64-unknown-linux-musl"\n'
        "[alias]\n"
        "b = [\n"
        '  "build", # x86_64-unknown-linux-musl in a comment\n'
        '  "--target", "aarch64-unknown-linux-musl",\n'
        "]\n"
    )
    result = cargo_config.scan(".cargo/config.toml", text)
    assert _uses(result) == [
        (2, "x86_64-unknown-linux-musl"),
        (6, "aarch64-unknown-linux-musl"),
    ]
    assert {u.kind for u in result.uses} == {UseKind.CARGO_CONFIG}


def test_cargo_config_multi_target_array_one_use_per_line() -> None:
    text = (
        "[build]\n"
        'target = ["x86_64-unknown-linux-gnu", "x86_64-unknown-linux-musl",\n'
        '          "armv7-unknown-linux-musleabihf"]\n'
    )
    assert _uses(cargo_config.scan(".cargo/config", text)) == [
        (2, "x86_64-unknown-linux-musl"),
        (3, "armv7-unknown-linux-musleabihf"),
    ]


def test_cargo_config_sections_and_dotted_keys() -> None:
    text = (
        "[target.aarch64-unknown-linux-musl]\n"
        'linker = "aarch64-linux-musl-gcc"\n'
        "[target]\n"
        'x86_64-unknown-linux-musl.linker = "x86_64-unknown-linux-musl-gcc"\n'
        "# [target.i686-unknown-linux-musl]\n"
    )
    assert _uses(cargo_config.scan(".cargo/config.toml", text)) == [
        (1, "aarch64-unknown-linux-musl"),
        (4, "x86_64-unknown-linux-musl"),
    ]


def test_cargo_config_c_compiler_name_is_not_a_target() -> None:
    text = '[env]\nCC = "x86_64-unknown-linux-musl-gcc"\n'
    assert cargo_config.scan(".cargo/config.toml", text).uses == ()


def test_cargo_config_dynamic_musl_and_vendored_hints() -> None:
    text = (
        "[target.x86_64-unknown-linux-musl]\n"
        'rustflags = ["-C", "target-feature=-crt-static"]\n'
        "[target.x86_64-pc-windows-msvc]\n"
        'rustflags = ["-C", "target-feature=-crt-static"]\n'
        "[build]\n"
        'rustflags = ["-C", "link-self-contained=no"]\n'
        "[source.crates-io]\n"
        'replace-with = "vendored-sources"\n'
        "[source.vendored-sources]\n"
        'directory = "vendor"\n'
    )
    result = cargo_config.scan(".cargo/config.toml", text)
    assert _hints(result) == [
        (2, HintKind.DYNAMIC_MUSL, "target-feature=-crt-static"),
        (6, HintKind.DYNAMIC_MUSL, "link-self-contained=no"),
        (8, HintKind.VENDORED, "vendored-sources"),
    ]


def test_cargo_config_without_triggers_is_skipped() -> None:
    assert cargo_config.scan(".cargo/config.toml", "[alias]\nxtask = 'run'\n") == (
        SourceResult()
    )


def test_cargo_config_multiline_strings_are_not_headers() -> None:
    text = (
        "[env]\n"
        'NOTE = """\n'
        "[target.x86_64-unknown-linux-musl]\n"
        '"""\n'
        "[build]\n"
        "target = 'x86_64-unknown-linux-musl' # musl\n"
    )
    result = cargo_config.scan(".cargo/config.toml", text)
    # The string content still names the triple (an env value), the key is NOTE.
    assert _uses(result) == [
        (3, "x86_64-unknown-linux-musl"),
        (6, "x86_64-unknown-linux-musl"),
    ]


def test_walk_toml_key_paths() -> None:
    text = (
        "a = 1\n"
        "[t.'q.k'.\"x y\"]\n"
        "b.c = [\n"
        "  1, # c\n"
        "\n"
        "]\n"
        "s = '''one\n"
        "two'''\n"
        "[[bin]]\n"
        "name = 'x'\n"
        "novalue\n"
    )
    lines = list(cargo_config.walk_toml(text))
    assert [(ln.line, ln.key, ln.header) for ln in lines] == [
        (1, ("a",), False),
        (2, ("t", "q.k", "x y"), True),
        (3, ("t", "q.k", "x y", "b", "c"), False),
        (4, ("t", "q.k", "x y", "b", "c"), False),
        (6, ("t", "q.k", "x y", "b", "c"), False),
        (7, ("t", "q.k", "x y", "s"), False),
        (8, ("t", "q.k", "x y", "s"), False),
        (9, ("bin",), True),
        (10, ("bin", "name"), False),
    ]


def test_parse_key_rejects_garbage() -> None:
    assert cargo_config.parse_key("a b") is None
    assert cargo_config.parse_key("") is None
    assert cargo_config.parse_key('"a.b".c') == ("a.b", "c")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('[build]\ntarget = "x86_64-unknown-linux-musl"\nbad =\n', 3),
        ('[build\ntarget = "x86_64-unknown-linux-musl"\n', 1),
        ('[build]\ntarget = "x86_64-unknown-linux-musl"\ntarget = "x"\n', 3),
    ],
)
def test_malformed_toml_is_a_problem(text: str, line: int) -> None:
    result = cargo_config.scan(".cargo/config.toml", text)
    assert result.uses == ()
    (problem,) = result.problems
    assert problem.line == line
    assert problem.message.startswith("malformed TOML")


def test_malformed_toml_without_findings_is_not_parsed() -> None:
    text = "[alias]\nb = \n# musl\n"
    assert cargo_config.scan(".cargo/config.toml", text) == SourceResult()


def test_hostile_toml_inputs_are_problems() -> None:
    triple = '"x86_64-unknown-linux-musl"'
    deep = "a = " + "[" * 100_000 + triple + "]" * 100_000 + "\n"
    (problem,) = cargo_config.scan(".cargo/config.toml", deep).problems
    assert (problem.line, problem.message) == (1, "nesting too deep; not read")
    # Balanced junk on a line that matters to no rule is skipped unparsed.
    junk = "a = " + "[" * 100_000 + "]" * 100_000 + "\n# musl\n"
    assert cargo_config.scan(".cargo/config.toml", junk) == SourceResult()
    binary = "musl\x00\x01\x02\xff" * 10
    (problem,) = cargo_config.scan(".cargo/config.toml", binary).problems
    assert "binary" in problem.message
    huge = "# musl\n" + "a = 1\n" * 1_000_000
    (problem,) = cargo_config.scan(".cargo/config.toml", huge).problems
    assert "too large" in problem.message


def test_toml_nesting_guard_spans_lines() -> None:
    text = "a = [\n" * 70 + "]\n" * 70
    lines, problem = cargo_config.read_toml("x.toml", text)
    assert lines == []
    assert problem is not None
    assert (problem.line, problem.message) == (65, "nesting too deep; not read")
    assert cargo_config.read_toml("x.toml", "a = [[[1]]]\n")[1] is None


def test_toml_helpers_edge_cases() -> None:
    assert cargo_config.first_string("= 1") is None
    assert cargo_config.first_string("= 'lit'") == "lit"
    lines = list(cargo_config.walk_toml('a = """x"""\nb = 2 # """\n'))
    assert [(ln.line, ln.key) for ln in lines] == [(1, ("a",)), (2, ("b",))]


# --- rust-toolchain ---------------------------------------------------------


def test_toolchain_targets_and_channel() -> None:
    text = (
        "[toolchain]\n"
        'channel = "1.78.0"\n'
        "targets = [\n"
        '  "x86_64-unknown-linux-musl",\n'
        '  # "aarch64-unknown-linux-musl",\n'
        '  "wasm32-wasip1", "aarch64-unknown-linux-musl",\n'
        "]\n"
    )
    result = toolchain.scan("rust-toolchain.toml", text)
    assert _uses(result) == [
        (4, "x86_64-unknown-linux-musl"),
        (6, "aarch64-unknown-linux-musl"),
    ]
    assert _hints(result) == [(2, HintKind.TOOLCHAIN, "1.78.0")]


def test_toolchain_legacy_file() -> None:
    result = toolchain.scan("rust-toolchain", "\n1.70.0\n")
    assert _hints(result) == [(2, HintKind.TOOLCHAIN, "1.70.0")]
    assert result.uses == ()
    host = toolchain.scan("rust-toolchain", "stable-x86_64-unknown-linux-musl\n")
    assert _uses(host) == [(1, "x86_64-unknown-linux-musl")]
    assert toolchain.scan("rust-toolchain", "# only a comment\n") == SourceResult()
    assert toolchain.scan("rust-toolchain", "not a channel!\n") == SourceResult()
    assert toolchain.scan("rust-toolchain", "\x00\x01") == SourceResult()


def test_toolchain_legacy_file_in_toml_form_and_malformed() -> None:
    result = toolchain.scan("rust-toolchain", '[toolchain]\nchannel = "nightly"\n')
    assert _hints(result) == [(2, HintKind.TOOLCHAIN, "nightly")]
    assert toolchain.scan("rust-toolchain.toml", "[toolchain]\nprofile = 'x'\n") == (
        SourceResult()
    )
    bad = '[toolchain\nchannel="1.70"'
    (problem,) = toolchain.scan("rust-toolchain.toml", bad).problems
    assert problem.line == 1
    empty = toolchain.scan("rust-toolchain.toml", "[toolchain]\nchannel = ''\n")
    assert empty == SourceResult()


# --- Cross.toml -------------------------------------------------------------


def test_cross_sections_images_and_default_target() -> None:
    text = (
        "[build]\n"
        'default-target = "x86_64-unknown-linux-musl"\n'
        'pre-build = ["curl -LO https://x/cross-x86_64-unknown-linux-musl.tar.gz"]\n'
        "[target.aarch64-unknown-linux-musl]\n"
        'image = "ghcr.io/me/rust-cross-aarch64-unknown-linux-musl:latest"\n'
        "[target.armv7-unknown-linux-musleabihf.env]\n"
        'passthrough = ["A"]\n'
        "[target.x86_64-unknown-linux-gnu]\n"
        'image.name = "img-x86_64-unknown-linux-musl"\n'
    )
    result = cross.scan("Cross.toml", text)
    assert _uses(result) == [
        (2, "x86_64-unknown-linux-musl"),
        (4, "aarch64-unknown-linux-musl"),
        (5, "aarch64-unknown-linux-musl"),
        (6, "armv7-unknown-linux-musleabihf"),
        (9, "x86_64-unknown-linux-musl"),
    ]
    assert {u.kind for u in result.uses} == {UseKind.CROSS}


def test_cross_without_musl_and_malformed() -> None:
    assert cross.scan("Cross.toml", "[build.env]\npassthrough = []\n") == (
        SourceResult()
    )
    (problem,) = cross.scan(
        "Cross.toml", "[target.x86_64-unknown-linux-musl\n"
    ).problems
    assert problem.line == 1


# --- cargo-dist and Cargo.toml hints ----------------------------------------


def test_dist_targets_in_cargo_toml_and_cfg_tables_are_traps() -> None:
    text = (
        "[package]\n"
        'name = "x"\n'
        'rust-version = "1.65"\n'
        "[workspace.metadata.dist]\n"
        "targets = [\n"
        '  "x86_64-unknown-linux-gnu",\n'
        '  "x86_64-unknown-linux-musl",\n'
        "]\n"
        "[target.'cfg(target_env = \"musl\")'.dependencies]\n"
        'jemallocator = "0.5"\n'
        "[target.x86_64-unknown-linux-musl.dependencies]\n"
        'mimalloc = "0.1"\n'
        "[package.metadata.cross.target.aarch64-unknown-linux-musl]\n"
        'image = "rust-aarch64-unknown-linux-musl"\n'
        "[package.metadata.docs.rs]\n"
        'targets = ["x86_64-unknown-linux-musl"]\n'
    )
    result = dist.scan("Cargo.toml", text)
    assert [(u.line, u.target, u.kind) for u in result.uses] == [
        (7, "x86_64-unknown-linux-musl", UseKind.DIST),
        (13, "aarch64-unknown-linux-musl", UseKind.CROSS),
        (14, "aarch64-unknown-linux-musl", UseKind.CROSS),
    ]
    assert _hints(result) == [(3, HintKind.MSRV, "1.65")]


def test_dist_workspace_toml() -> None:
    text = (
        "[workspace]\n"
        'members = ["cargo:."]\n'
        "[dist]\n"
        'targets = ["aarch64-unknown-linux-musl", "x86_64-unknown-linux-musl"]\n'
    )
    result = dist.scan("dist-workspace.toml", text)
    assert _uses(result) == [
        (4, "aarch64-unknown-linux-musl"),
        (4, "x86_64-unknown-linux-musl"),
    ]


@pytest.mark.parametrize(
    ("requirement", "blocks"),
    [
        ("=0.2.140", True),
        ("=0.2.145", True),
        ("=0.2.146", False),
        ("=0.2.172", False),
        ("<0.2.146", True),
        ("<=0.2.145", True),
        ("<=0.2.146", False),
        (">=0.2.100, <0.2.140", True),
        (">=0.2.100, <0.2.150", False),
        ("~0.2.140", False),
        ("^0.2.140", False),
        ("0.2", False),
        ("0.2.140", False),
        ("*", False),
        ("0.2.*", False),
        ("=0.2", False),
        ("<0.2", True),
        ("<=0.2", False),
        (">0.2", True),
        (">0.2.145", False),
        (">=0.3", True),
        ("^0.1", True),
        ("^0", False),
        ("=0", False),
        ("^0.0.5", True),
        ("^1.0", True),
        ("~0", False),
        ("0.2.140-alpha", False),
        ("not a version", False),
    ],
)
def test_blocks_fixed_libc(requirement: str, blocks: bool) -> None:
    assert dist.blocks_fixed_libc(requirement) is blocks


def test_cargo_toml_libc_pin_and_patch_hints() -> None:
    text = (
        "[workspace.package]\n"
        'rust-version = "1.56"\n'
        "[dependencies]\n"
        'libc = "=0.2.140"\n'
        'libcst = "=0.1.0"\n'
        "[dev-dependencies]\n"
        'libc = { version = "<0.2.146", default-features = false }\n'
        "[build-dependencies.libc]\n"
        'version = "<=0.2.144"\n'
        "[target.'cfg(unix)'.dependencies]\n"
        'libc = "0.2"\n'
        'other = { version = "=0.2.1" }\n'
        "[workspace.dependencies]\n"
        'libc = { git = "https://example.invalid/libc" }\n'
        "[patch.crates-io]\n"
        'libc = { git = "https://example.invalid/libc", rev = "abc" }\n'
        '[patch."https://example.invalid/index".libc]\n'
        'path = "../libc"\n'
        "[replace]\n"
        '"libc:0.2.140" = { path = "x" }\n'
        "[package]\n"
        "rust-version.workspace = true\n"
        "[package.metadata.x]\n"
        'rust-version = ""\n'
        "[target.'cfg(windows)'.dependencies.libc]\n"
        'features = ["extra_traits"]\n'
    )
    result = dist.scan("Cargo.toml", text)
    assert result.uses == ()
    assert _hints(result) == [
        (2, HintKind.MSRV, "1.56"),
        (4, HintKind.LIBC_PIN, "=0.2.140"),
        (7, HintKind.LIBC_PIN, "<0.2.146"),
        (9, HintKind.LIBC_PIN, "<=0.2.144"),
        (
            16,
            HintKind.LIBC_PATCH,
            '{ git = "https://example.invalid/libc", rev = "abc" }',
        ),
        (17, HintKind.LIBC_PATCH, "patch.https://example.invalid/index.libc"),
        (20, HintKind.LIBC_PATCH, "libc:0.2.140"),
    ]


def test_cargo_toml_without_triggers_and_malformed() -> None:
    assert dist.scan("Cargo.toml", '[package]\nname = "x"\n') == SourceResult()
    assert dist.scan("Cargo.toml", '[package]\nrust-version = ""\n') == SourceResult()
    bad = '[dependencies]\nlibc = "=0.2.1"\nlibc = "0.3"\n'
    (problem,) = dist.scan("Cargo.toml", bad).problems
    assert problem.line == 3
    (problem,) = dist.scan("Cargo.toml", "libc = " + "{b = " * 80).problems
    assert problem.message == "nesting too deep; not read"


@pytest.mark.parametrize("scanner", [cross.scan, toolchain.scan, dist.scan])
def test_toml_scanners_refuse_binary(scanner: Scanner) -> None:
    (problem,) = scanner(
        "x.toml", "[toolchain]\nx86_64-unknown-linux-musl\x00"
    ).problems
    assert problem.message == "binary file (NUL bytes); not read"


# --- Dockerfiles --------------------------------------------------------------


def test_docker_rust_alpine_build_stage() -> None:
    text = (
        "FROM rust:1.70-alpine3.18 AS build\n"
        "RUN apk add musl-dev\n"
        "ENV RUSTFLAGS='-C target-feature=-crt-static'\n"
        "RUN cargo build --release\n"
        "FROM alpine:3.18\n"
        "COPY --from=build /app/target/release/app /app\n"
    )
    result = docker.scan("Dockerfile", text)
    (use,) = result.uses
    assert (use.line, use.target, use.implicit, use.resolves_to) == (
        1,
        "rust:1.70-alpine3.18",
        True,
        ("x86_64-unknown-linux-musl",),
    )
    assert _hints(result) == [
        (3, HintKind.DYNAMIC_MUSL, "target-feature=-crt-static"),
        (1, HintKind.TOOLCHAIN, "1.70"),
        (1, HintKind.SYSTEM_MUSL, "alpine:3.18"),
    ]


def test_docker_rust_alpine_unversioned_and_chained_stage() -> None:
    text = (
        "FROM --platform=linux/arm64 docker.io/library/rust:alpine AS chef\n"
        "WORKDIR /app\n"
        "FROM chef AS builder\n"
        "RUN cargo build\n"
    )
    result = docker.scan("Dockerfile", text)
    assert [(u.line, u.target, u.resolves_to) for u in result.uses] == [
        (1, "rust:alpine", ("aarch64-unknown-linux-musl",))
    ]
    assert _hints(result) == [
        (1, HintKind.TOOLCHAIN, "stable"),
        (1, HintKind.SYSTEM_MUSL, "alpine:latest"),
    ]


def test_docker_alpine_with_packaged_rust_is_a_use() -> None:
    text = "FROM alpine:3.19\nRUN apk add --no-cache rust cargo && cargo build\n"
    result = docker.scan("Containerfile", text)
    assert [(u.line, u.target, u.implicit) for u in result.uses] == [
        (1, "alpine:3.19", True)
    ]
    assert _hints(result) == [(1, HintKind.SYSTEM_MUSL, "alpine:3.19")]


def test_docker_alpine_runtime_stage_is_not_a_use() -> None:
    text = (
        "FROM rust:1.70 AS build\n"
        "RUN cargo build --release --target x86_64-unknown-linux-musl\n"
        "FROM alpine:3.17\n"
        "RUN apk add --no-cache ca-certificates\n"
        "COPY --from=build /app/target/x86_64-unknown-linux-musl/release/app /\n"
        'CMD ["/app"]\n'
        "FROM rust:alpine AS unused\n"
        "COPY . .\n"
    )
    result = docker.scan("Dockerfile", text)
    assert _uses(result) == [
        (2, "x86_64-unknown-linux-musl"),
        (5, "x86_64-unknown-linux-musl"),
    ]


def test_docker_builder_images() -> None:
    text = (
        "ARG IMG=ghcr.io/rust-cross/rust-musl-cross:armv7-musleabihf\n"
        "FROM docker.io/blackdex/rust-musl:aarch64-musl-stable-1.70.0 AS a\n"
        "FROM messense/rust-musl-cross:x86_64-musl AS b\n"
        "FROM ${IMG} AS c\n"
        "FROM clux/muslrust:1.72.0-stable AS d\n"
        "FROM blackdex/rust-musl:latest AS e\n"
        "FROM rustembedded/cross:x86_64-unknown-linux-musl AS f\n"
        "FROM rust-riscv64gc-unknown-linux-musl\n"
        "FROM --link clux/muslrust AS build-x86_64-unknown-linux-musl\n"
        "FROM rust:alpine AS build-aarch64-unknown-linux-musl\n"
        "RUN cargo build\n"
    )
    result = docker.scan("ci/Dockerfile", text)
    assert [(u.line, u.target, u.resolves_to) for u in result.uses] == [
        (7, "x86_64-unknown-linux-musl", ("x86_64-unknown-linux-musl",)),
        (8, "riscv64gc-unknown-linux-musl", ("riscv64gc-unknown-linux-musl",)),
        (9, "x86_64-unknown-linux-musl", ("x86_64-unknown-linux-musl",)),
        (10, "aarch64-unknown-linux-musl", ("aarch64-unknown-linux-musl",)),
        (2, "blackdex/rust-musl:aarch64-musl", ("aarch64-unknown-linux-musl",)),
        (3, "messense/rust-musl-cross:x86_64-musl", ("x86_64-unknown-linux-musl",)),
        (
            4,
            "rust-cross/rust-musl-cross:armv7-musleabihf",
            ("armv7-unknown-linux-musleabihf",),
        ),
        (5, "clux/muslrust:1.72.0-stable", ("x86_64-unknown-linux-musl",)),
    ]
    assert [h.value for h in result.hints if h.kind is HintKind.TOOLCHAIN] == [
        "1.70.0",
        "stable",
        "stable",
        "1.72.0",
        "stable",
        "stable",
    ]


def test_docker_comments_heredoc_and_templates() -> None:
    text = (
        "# syntax=docker/dockerfile:1\n"
        "FROM ubuntu AS base\n"
        "ENV ARCH=aarch64\n"
        "# RUN rustup target add x86_64-unknown-linux-musl\n"
        "RUN <<EOF\n"
        "    # cargo build --target x86_64-unknown-linux-musl\n"
        '    curl -LO "https://x/sccache-v0.5-${ARCH}-unknown-linux-musl.tar.gz"\n'
        "    curl -LO https://x/cross-x86_64-unknown-linux-musl.tar.gz\n"
        '    rustup target add "${ARCH}-unknown-linux-musl"'
        " # x86_64-unknown-linux-musl\n"
        "EOF\n"
        'RUN case "$TARGETARCH" in \\\n'
        "      amd64) T=x86_64-unknown-linux-musl ;; \\\n"
        "\n"
        "      # arm64) T=aarch64-unknown-linux-musl ;; \\\n"
        "    esac && cargo build --target $T\n"
        "RUN echo x86_64-unknown-linux-musl-gcc\n"
    )
    result = docker.scan("Dockerfile", text)
    assert [(u.line, u.target, u.implicit, u.resolves_to) for u in result.uses] == [
        (
            9,
            "${ARCH}-unknown-linux-musl",
            True,
            ("aarch64-unknown-linux-musl",),
        ),
        (12, "x86_64-unknown-linux-musl", False, ("x86_64-unknown-linux-musl",)),
    ]


def test_docker_quoted_template_and_unknown_arch() -> None:
    text = 'FROM ubuntu\nRUN rustup target add "$ARCH"-unknown-linux-musl\n'
    (use,) = docker.scan("Dockerfile", text).uses
    assert use.target == '"$ARCH"-unknown-linux-musl'
    assert use.resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_docker_skips_files_without_triggers_and_bad_input() -> None:
    assert docker.scan("Dockerfile", "FROM debian\nRUN make\n") == SourceResult()
    (problem,) = docker.scan("Dockerfile", "alpine\x00").problems
    assert "binary" in problem.message
    huge = "RUN echo alpine\n" * 200_000
    (problem,) = docker.scan("Dockerfile", huge).problems
    assert "too large" in problem.message


def test_docker_from_without_image() -> None:
    assert docker.scan("Dockerfile", "FROM\nFROM --platform=x\nRUN alpine\n").uses == ()


# --- Makefile / justfile ------------------------------------------------------


def test_make_recipes_variables_and_downloads() -> None:
    text = (
        "TARGET := x86_64-unknown-linux-musl\n"
        "# build: cargo build --target aarch64-unknown-linux-musl\n"
        "build:\n"
        "\tcargo build --target=$(TARGET) # i686-unknown-linux-musl\n"
        "\tcurl -LO https://github.com/x/releases/download/v1/just-1.0-x86_64-unknown-linux-musl.tar.gz\n"
        "\tcp target/x86_64-unknown-linux-musl/release/app"
        " app-x86_64-unknown-linux-musl\n"
        "\twget https://x/y/hyperfine/x86_64-unknown-linux-musl/hyperfine\n"
        "ARCH = armv7\n"
        "\tcargo build --target $(ARCH)-unknown-linux-musleabihf\n"
        "\tjust build {{arch()}}-unknown-linux-musl\n"
        "\techo '# not a comment x86_64-unknown-linux-musl'\n"
        "\tdocker run -v $(PWD):/volume clux/muslrust:stable cargo build\n"
        "\tdocker run rustembedded/cross:aarch64-unknown-linux-musl make\n"
        "\tcargo build --target $(shell uname -m)-unknown-linux-musl\n"
        "\tcurl -LO https://x/just/${ARCH}-unknown-linux-musl\n"
        "\tdocker pull ghcr.io/blackdex/rust-musl:latest\n"
        "\tcc -o x x.c  # x86_64-unknown-linux-musl-gcc\n"
    )
    result = make.scan("Makefile", text)
    assert [(u.line, u.target, u.resolves_to) for u in result.uses] == [
        (1, "x86_64-unknown-linux-musl", ("x86_64-unknown-linux-musl",)),
        (6, "x86_64-unknown-linux-musl", ("x86_64-unknown-linux-musl",)),
        (9, "$(ARCH)-unknown-linux-musleabihf", ("armv7-unknown-linux-musleabihf",)),
        (
            10,
            "{{arch()}}-unknown-linux-musl",
            ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"),
        ),
        (11, "x86_64-unknown-linux-musl", ("x86_64-unknown-linux-musl",)),
        (12, "clux/muslrust:stable", ("x86_64-unknown-linux-musl",)),
        (13, "aarch64-unknown-linux-musl", ("aarch64-unknown-linux-musl",)),
        (
            14,
            "$(shell uname -m)-unknown-linux-musl",
            ("x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"),
        ),
    ]
    assert {u.kind for u in result.uses} == {UseKind.MAKE}
    assert list(make.loose_triples("x86_64-unknown-linux-musl-gcc")) == []


def test_make_skips_and_problems() -> None:
    assert make.scan("justfile", "build:\n  cargo build\n") == SourceResult()
    only_builder = make.scan(
        "justfile", "b:\n  docker run messense/rust-musl-cross:x86_64-musl\n"
    )
    assert _uses(only_builder) == [(2, "messense/rust-musl-cross:x86_64-musl")]
    (problem,) = make.scan("Makefile", "-linux-musl\x00").problems
    assert problem.line == 1
    text = "-linux-musl " * 100_000
    (problem,) = make.scan("Makefile", text).problems
    assert "too large" in problem.message


@pytest.mark.parametrize("space", ["\u00a0", "\f"])
def test_rare_separators_before_a_tool_download(space: str) -> None:
    text = f"build:\n\tcp x{space}sccache-x86_64-unknown-linux-musl.tar.gz y\n"
    assert make.scan("Makefile", text).uses == ()
