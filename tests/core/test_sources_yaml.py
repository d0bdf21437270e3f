"""Tests for the YAML CI scanners (workflows, GitLab, CircleCI, Cirrus, Azure).

The corpus test runs every scanner over every in-scope file of every DEV case
and compares with the hand-checked expected.json: every expected (path, line)
must be found and no trap line reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from bot.core.sources import (
    HintKind,
    MuslUse,
    Problem,
    SourceResult,
    UseKind,
    azure,
    builders,
    circleci,
    cirrus,
    gitlab,
    shell,
    workflows,
    yamlload,
)
from tests.paths import CORPUS

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ci"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
WORKFLOW_RE = re.compile(r"\.github/workflows/[^/]+\.ya?ml")
ROOT_FILES: dict[str, ModuleType] = {
    ".gitlab-ci.yml": gitlab,
    ".circleci/config.yml": circleci,
    ".cirrus.yml": cirrus,
    "azure-pipelines.yml": azure,
}


def scanner_for(rel: str) -> ModuleType | None:
    if WORKFLOW_RE.fullmatch(rel):
        return workflows
    return ROOT_FILES.get(rel)


def scan_case(case: str) -> dict[tuple[str, int], list[MuslUse]]:
    root = CORPUS / case
    found: dict[tuple[str, int], list[MuslUse]] = {}
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        module = scanner_for(rel)
        if module is None or not file.is_file():
            continue
        text = file.read_text(encoding="utf-8", errors="surrogateescape")
        result = module.scan(rel, text)
        assert result.problems == ()
        for use in result.uses:
            assert use.path == rel
            found.setdefault((rel, use.line), []).append(use)
    return found


def expected(case: str) -> dict[str, list[dict[str, object]]]:
    data: dict[str, list[dict[str, object]]] = json.loads(
        (CORPUS / case / "expected.json").read_text()
    )
    return data


def test_corpus_is_present() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str) -> None:
    found = scan_case(case)
    exp = expected(case)
    wanted = [u for u in exp["musl_uses"] if scanner_for(str(u["path"]))]
    missing = []
    for use in wanted:
        got = found.get((str(use["path"]), int(str(use["line"]))))
        if not got:
            missing.append(use)
            continue
        match = [g for g in got if g.target == use["target"]]
        assert match, (use, got)
        if use.get("implicit"):
            assert match[0].implicit
            assert list(match[0].resolves_to) == use["resolves_to"]
        else:
            assert not match[0].implicit
            assert match[0].resolves_to == (use["target"],)
    assert missing == []
    traps = {(str(t["path"]), int(str(t["line"]))) for t in exp["traps"]}
    assert sorted(traps & found.keys()) == []


def test_corpus_recall_overall() -> None:
    total = hit = 0
    for case in CASES:
        found = scan_case(case)
        for use in expected(case)["musl_uses"]:
            if scanner_for(str(use["path"])):
                total += 1
                hit += (str(use["path"]), int(str(use["line"]))) in found
    assert total > 100
    assert hit / total >= 0.98
    assert hit == total  # DEV target: 100 %


# ---------------------------------------------------------------------------
# Helpers


def wf(text: str) -> SourceResult:
    return workflows.scan(".github/workflows/ci.yml", text)


def lines_of(result: SourceResult) -> list[int]:
    return sorted({u.line for u in result.uses})


def use_at(result: SourceResult, line: int) -> MuslUse:
    (use,) = [u for u in result.uses if u.line == line]
    return use


def hint_kinds(result: SourceResult) -> list[tuple[int, HintKind, str]]:
    return [(h.line, h.kind, h.value) for h in result.hints]


# ---------------------------------------------------------------------------
# GitHub Actions: uses and traps


MATRIX = """\
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        target:
          - x86_64-unknown-linux-musl      # skip-pr
          # - mips-unknown-linux-musl
          - x86_64-unknown-linux-gnu
        include:
          - { target: aarch64-unknown-linux-musl, os: ubuntu-latest }
          - target: armv7-unknown-linux-musleabihf
            os: ubuntu-latest
        exclude:
          - target: i686-unknown-linux-musl
    steps:
      - uses: dtolnay/rust-toolchain@1.70
        with:
          targets: x86_64-unknown-linux-musl,aarch64-unknown-linux-musl
      - run: cargo build --release --target ${{ matrix.target }}
      - if: matrix.target == 'x86_64-unknown-linux-musl'
        run: sudo apt-get install musl-tools
      - if: ${{ matrix.target == 'mips-unknown-linux-musl' }}
        run: |
          rustup target add mips-unknown-linux-musl
          ls target/mips-unknown-linux-musl/release
"""


def test_matrix_entries_flow_style_include_and_inputs() -> None:
    result = wf(MATRIX)
    assert lines_of(result) == [7, 11, 12, 19, 21]
    assert [u.target for u in result.uses if u.line == 19] == [
        "aarch64-unknown-linux-musl",
        "x86_64-unknown-linux-musl",
    ]
    assert all(u.kind is UseKind.WORKFLOW and not u.implicit for u in result.uses)


def test_comments_exclude_and_dead_conditions_are_not_uses() -> None:
    reported = set(lines_of(wf(MATRIX)))
    # 8: commented out; 15: exclude; 23-26: a step only for an unbuilt target.
    assert reported.isdisjoint({8, 15, 23, 24, 25, 26})


def test_condition_on_a_built_target_is_a_use() -> None:
    text = MATRIX.replace("# - mips-unknown-linux-musl", "- mips-unknown-linux-musl")
    assert {8, 23, 25, 26} <= set(lines_of(wf(text)))


def test_negated_condition_keeps_its_step() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix:
        target: [x86_64-unknown-linux-gnu]
    steps:
      - if: matrix.target != 'i586-unknown-linux-musl'
        run: cargo build --target x86_64-unknown-linux-musl
"""
    # The condition names an unbuilt triple (not reported) but cannot make
    # the step dead: `!=` holds.
    assert lines_of(wf(text)) == [8]


def test_condition_without_a_matrix_in_a_job_with_dynamic_matrix() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix: ${{ fromJSON(needs.plan.outputs.matrix) }}
    steps:
      - if: matrix.target == 'x86_64-unknown-linux-musl'
        run: echo hi
"""
    result = wf(text)
    assert lines_of(result) == [6]
    assert (4, HintKind.UNRESOLVED, "dynamic matrix") in hint_kinds(result)


def test_top_level_matrix_scalar_does_not_crash_the_index() -> None:
    text = """\
matrix: x86_64
jobs:
  a:
    steps:
      - if: contains(matrix.t, 'x86_64-unknown-linux-musl')
        run: echo x86_64-unknown-linux-musl
"""
    # A `matrix:` key at the top has no parent key; indexing it used to raise.
    # The step only runs for a target nothing builds, so it is dead code.
    assert lines_of(wf(text)) == []


def test_disabled_steps_and_jobs_are_skipped() -> None:
    text = """\
jobs:
  off:
    if: false
    steps:
      - run: cargo build --target x86_64-unknown-linux-musl
  on:
    steps:
      - if: ${{ false }}
        run: cargo build --target aarch64-unknown-linux-musl
      - run: cargo build --target i686-unknown-linux-musl
"""
    assert lines_of(wf(text)) == [10]


def test_downloads_of_prebuilt_tools_are_not_uses() -> None:
    text = """\
jobs:
  t:
    steps:
      - run: |
          curl -LO https://github.com/cross-rs/cross/releases/download/v0.2.5/cross-x86_64-unknown-linux-musl.tar.gz
          tar xf cross-x86_64-unknown-linux-musl.tar.gz
          URL=https://github.com/rustwasm/wasm-pack/releases/download/v1/wasm-pack-v1-x86_64-unknown-linux-musl.tar.gz
          SCCACHE=sccache-v0.5.4-x86_64-unknown-linux-musl
          curl -sSf https://x.io/i.sh | sh -s -- --target x86_64-unknown-linux-musl
          wget -q "$BASE/hyperfine_1.16.1_amd64.deb" x86_64-unknown-linux-musl
          gh release download --pattern '*aarch64-unknown-linux-musl*'
          cargo build --target x86_64-unknown-linux-musl
          tar czf myapp-${{ github.ref_name }}-x86_64-unknown-linux-musl.tar.gz myapp
          gh release upload v1 myapp-x86_64-unknown-linux-musl.tar.gz
"""
    assert lines_of(wf(text)) == [12, 13, 14]


def test_c_toolchains_env_spellings_and_bare_musl_are_neutral() -> None:
    text = """\
jobs:
  t:
    steps:
      - run: sudo apt-get install musl-tools
      - run: make release-linux-musl
        env:
          CC: x86_64-linux-musl-gcc
          CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER: aarch64-linux-musl-gcc
          STRIP: riscv64-linux-musl-strip
      - run: cargo build --target x86_64-unknown-linux-muslx
"""
    result = wf(text)
    assert result.uses == ()
    assert result.problems == ()


def test_shell_comments_inside_run_blocks_are_ignored() -> None:
    text = """\
jobs:
  t:
    steps:
      - run: |
          # cargo build --target x86_64-unknown-linux-musl
          cargo build  # --target aarch64-unknown-linux-musl
          echo "x86_64-unknown-linux-musl # quoted"
"""
    assert lines_of(wf(text)) == [7]


def test_multiline_conditions_and_folded_scalars_keep_lines() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix:
        target: [x86_64-unknown-linux-musl, aarch64-unknown-linux-musl]
    steps:
      - if: >-
          ${{
            matrix.target == 'aarch64-unknown-linux-musl'
            || matrix.target == 'riscv64gc-unknown-linux-musl'
          }}
        run: echo
      - name: plain
        run: echo one
          x86_64-unknown-linux-musl two
"""
    assert lines_of(wf(text)) == [5, 9, 15]


def test_artifact_names_paths_and_job_keys_count() -> None:
    text = """\
jobs:
  t:
    steps:
      - uses: actions/upload-artifact@v4
        with:
          name: starship-x86_64-unknown-linux-musl.tar.gz
          path: target/x86_64-unknown-linux-musl/release/starship
      - run: rustup default stable-x86_64-unknown-linux-musl
    env:
      x86_64-unknown-linux-musl: yes
"""
    assert lines_of(wf(text)) == [6, 7, 8, 10]


def test_services_are_not_builds() -> None:
    text = """\
jobs:
  t:
    services:
      db:
        image: rust:alpine
        env:
          T: x86_64-unknown-linux-musl
    steps:
      - run: cargo test
"""
    assert wf(text).uses == ()


def test_anchors_and_aliases_are_scanned_once() -> None:
    text = """\
x-target: &t x86_64-unknown-linux-musl
jobs:
  a:
    env:
      TARGET: *t
    steps:
      - &step
        run: cargo build --target aarch64-unknown-linux-musl
  b:
    steps:
      - *step
    ? [complex, key]
    : musl
    *t : aliased key
"""
    assert lines_of(wf(text)) == [1, 8]


def test_one_use_per_line_and_triple() -> None:
    text = """\
- plain
- if: matrix.target == 'x86_64-unknown-linux-musl'
- cargo build --target x86_64-unknown-linux-musl && ls target/x86_64-unknown-linux-musl
"""
    result = wf(text)
    assert [(u.line, u.target) for u in result.uses] == [
        (2, "x86_64-unknown-linux-musl"),
        (3, "x86_64-unknown-linux-musl"),
    ]


# ---------------------------------------------------------------------------
# Implicit uses


def test_templated_arch_resolves_through_the_matrix() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix:
        arch: [x86_64, aarch64]
    steps:
      - run: cargo build --target ${{ matrix.arch }}-unknown-linux-musl
"""
    use = use_at(wf(text), 7)
    assert use.implicit
    assert use.target == "${{ matrix.arch }}-unknown-linux-musl"
    assert use.resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_templated_libc_marks_the_matrix_line() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix:
        arch: [x86_64, arm64]
        libc: [ "gnu", "musl" ]
    steps:
      - run: cargo build --target ${{ matrix.arch }}-unknown-linux-${{ matrix.libc }}
"""
    result = wf(text)
    assert lines_of(result) == [6, 8]
    assert use_at(result, 6).target == "musl"
    assert use_at(result, 8).resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_templated_libc_without_musl_is_not_a_use() -> None:
    text = """\
name: no musl here
jobs:
  t:
    strategy:
      matrix:
        libc: [gnu]
    steps:
      - run: cargo build --target x86_64-unknown-linux-${{ matrix.libc }}
"""
    assert wf(text).uses == ()


def test_literal_arch_with_templated_libc() -> None:
    text = """\
jobs:
  t:
    strategy:
      matrix:
        libc: [musl, musleabihf]
    steps:
      - run: cargo build --target armv7-unknown-linux-${{ matrix.libc }}
"""
    result = wf(text)
    assert use_at(result, 7).resolves_to == (
        "armv7-unknown-linux-musl",
        "armv7-unknown-linux-musleabihf",
    )
    assert [(u.target, u.resolves_to) for u in result.uses if u.line == 5] == [
        ("musl", ("armv7-unknown-linux-musl",)),
        ("musleabihf", ("armv7-unknown-linux-musleabihf",)),
    ]


def test_self_referencing_variables_do_not_loop() -> None:
    text = """\
env:
  ARCH: $ARCH
  OTHER: ${{ env.ARCH }}
jobs:
  t:
    steps:
      - run: cargo build --target ${OTHER}-unknown-linux-musl
"""
    use = use_at(wf(text), 7)
    assert use.resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_shell_variable_arch_resolves_through_env_or_falls_back() -> None:
    text = """\
env:
  ARCH: ${{ matrix.arch }}
jobs:
  t:
    strategy:
      matrix:
        arch: [i686]
    steps:
      - run: rustup target add "$ARCH"-unknown-linux-musl
      - run: cargo build --target ${UNKNOWN}-unknown-linux-musl
      - run: curl -LO https://example.com/tool-$ARCH-unknown-linux-musl.tar.gz
"""
    result = wf(text)
    assert lines_of(result) == [9, 10]
    assert use_at(result, 9).target == '"$ARCH"-unknown-linux-musl'
    assert use_at(result, 9).resolves_to == ("i686-unknown-linux-musl",)
    assert use_at(result, 10).resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_maturin_musllinux_per_matrix_entry_and_step() -> None:
    text = """\
jobs:
  wheels:
    strategy:
      matrix:
        include:
          - target: x86_64
            manylinux: musllinux_1_1
          - target: aarch64
            manylinux: auto
        platform:
          - target: armv7-unknown-linux-musleabihf
          - target: ppc64le
    steps:
      - uses: PyO3/maturin-action@v1
        with:
          target: ${{ matrix.platform.target }}
          manylinux: musllinux_1_2
      - uses: PyO3/maturin-action@v1
        with:
          manylinux: musllinux_1_2
      - uses: PyO3/maturin-action@v1
        with:
          target: [s390x, x86]
          manylinux: "musllinux_1_2"
      - uses: PyO3/maturin-action@v1
        with:
          target: sparc64
          manylinux: musllinux_1_2
"""
    result = wf(text)
    assert lines_of(result) == [7, 11, 17, 20, 24]
    assert use_at(result, 7).resolves_to == ("x86_64-unknown-linux-musl",)
    assert use_at(result, 17).target == "musllinux_1_2"
    assert use_at(result, 17).resolves_to == (
        "armv7-unknown-linux-musleabihf",
        "powerpc64le-unknown-linux-musl",
    )
    assert use_at(result, 20).resolves_to == ("x86_64-unknown-linux-musl",)
    assert use_at(result, 24).resolves_to == (
        "s390x-unknown-linux-musl",
        "i686-unknown-linux-musl",
    )


def test_builder_images_and_native_alpine_builds_are_implicit_uses() -> None:
    text = """\
jobs:
  a:
    container: rust:1.70-alpine3.18
    steps:
      - run: cargo build --release
  b:
    container:
      image: docker.io/blackdex/rust-musl:aarch64-musl-stable
    steps:
      - run: cargo build
  c:
    container: alpine:3.19
    steps:
      - run: apk add rust cargo && cargo test
  d:
    steps:
      - uses: docker://clux/muslrust:stable
        with:
          args: cargo build
      - run: docker run -v $PWD:/s messense/rust-musl-cross:armv7-musleabihf make
      - run: docker run --rm ghcr.io/clux/muslrust:arm64 cargo build
  e:
    steps:
      - uses: addnab/docker-run-action@v3
        with:
          image: alpine:latest
          run: pip3 install dist/*.whl
"""
    result = wf(text)
    assert [(u.line, u.target, u.resolves_to) for u in result.uses] == [
        (3, "rust:1.70-alpine3.18", ("x86_64-unknown-linux-musl",)),
        (8, "blackdex/rust-musl:aarch64-musl", ("aarch64-unknown-linux-musl",)),
        # Alpine's own cargo builds for the musl host (job c).
        (12, "alpine:3.19", ("x86_64-unknown-linux-musl",)),
        (17, "clux/muslrust:stable", ("x86_64-unknown-linux-musl",)),
        (
            20,
            "messense/rust-musl-cross:armv7-musleabihf",
            ("armv7-unknown-linux-musleabihf",),
        ),
        (21, "ghcr.io/clux/muslrust:arm64", ("aarch64-unknown-linux-musl",)),
    ]
    assert all(u.implicit for u in result.uses)
    system = [(h.line, h.value) for h in result.hints if h.kind is HintKind.SYSTEM_MUSL]
    assert system == [(3, "rust:1.70-alpine3.18"), (12, "alpine:3.19")]


# ---------------------------------------------------------------------------
# Hints


def test_hints_toolchain_dynamic_musl_and_reusable_workflows() -> None:
    text = """\
jobs:
  t:
    steps:
      - uses: dtolnay/rust-toolchain@1.70
      - uses: actions-rs/toolchain@v1
        with:
          toolchain: 1.72.0  # MSRV
      - run: rustup default nightly-2024-01-01 && cargo +1.75 build
      # - run: rustup default 1.60
      - run: cargo build
        env:
          RUSTFLAGS: -C target-feature=-crt-static
  call:
    uses: org/repo/.github/workflows/build.yml@v1
    with:
      targets: x86_64-unknown-linux-musl
"""
    result = wf(text)
    assert hint_kinds(result) == [
        (4, HintKind.TOOLCHAIN, "1.70"),
        (7, HintKind.TOOLCHAIN, "1.72.0"),
        (8, HintKind.TOOLCHAIN, "nightly-2024-01-01"),
        (8, HintKind.TOOLCHAIN, "1.75"),
        (12, HintKind.DYNAMIC_MUSL, "target-feature=-crt-static"),
        (14, HintKind.UNRESOLVED, "org/repo/.github/workflows/build.yml@v1"),
    ]
    assert lines_of(result) == [16]


def test_hints_without_musl_skip_yaml_parsing() -> None:
    text = "jobs:\n  t:\n    steps:\n      - run: rustup toolchain install 1.65\n  ]["
    result = wf(text)
    assert result.problems == ()  # never parsed: nothing musl-related in it
    assert hint_kinds(result) == [(4, HintKind.TOOLCHAIN, "1.65")]


def test_hint_lines_are_found_once_and_at_the_end_of_text() -> None:
    text = "run: rustup default 1.70; rustup default 1.71"
    assert hint_kinds(wf(text)) == [
        (1, HintKind.TOOLCHAIN, "1.70"),
        (1, HintKind.TOOLCHAIN, "1.71"),
    ]


def test_toolchain_key_must_own_its_line() -> None:
    text = "x: echo toolchain: 1.70\nlink: -Clink-self-contained=no\n"
    assert hint_kinds(wf(text)) == [
        (2, HintKind.DYNAMIC_MUSL, "link-self-contained=no")
    ]


# ---------------------------------------------------------------------------
# Other CI systems (real-shaped files in tests/fixtures/ci)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_gitlab() -> None:
    result = gitlab.scan(".gitlab-ci.yml", fixture("gitlab-ci.yml"))
    assert result.problems == ()
    got = [(u.line, u.target, u.implicit) for u in result.uses]
    assert got == [
        (1, "clux/muslrust:stable", True),
        (7, "x86_64-unknown-linux-musl", False),
        (13, "x86_64-unknown-linux-musl", False),
        (14, "x86_64-unknown-linux-musl", False),
        (15, "x86_64-unknown-linux-musl", False),
        (21, "aarch64-unknown-linux-musl", False),
        (31, "$ARCH-unknown-linux-musl", True),
    ]
    assert {u.kind for u in result.uses} == {UseKind.GITLAB}
    assert use_at(result, 31).resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_circleci() -> None:
    result = circleci.scan(".circleci/config.yml", fixture("circleci-config.yml"))
    got = [(u.line, u.target) for u in result.uses]
    assert got == [
        (6, "rust:alpine"),
        (13, "<< parameters.arch >>-unknown-linux-musl"),
        (24, "x86_64-unknown-linux-musl"),
    ]
    assert use_at(result, 13).resolves_to == (
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
    )


def test_cirrus() -> None:
    result = cirrus.scan(".cirrus.yml", fixture("cirrus.yml"))
    assert [(u.line, u.target) for u in result.uses] == [
        (4, "x86_64-unknown-linux-musl"),
        (8, "x86_64-unknown-linux-musl"),
        (9, "x86_64-unknown-linux-musl"),  # a condition on a built target
    ]
    assert {u.kind for u in result.uses} == {UseKind.CIRRUS}


def test_azure_dynamic_matrix_keeps_conditions() -> None:
    text = """\
strategy:
  matrix: ${{ parameters.matrix }}
steps:
  - script: cargo build
    condition: eq(variables['TARGET'], 'x86_64-unknown-linux-musl')
"""
    assert lines_of(azure.scan("azure-pipelines.yml", text)) == [5]


def test_azure() -> None:
    result = azure.scan("azure-pipelines.yml", fixture("azure-pipelines.yml"))
    assert [(u.line, u.target) for u in result.uses] == [
        (6, "x86_64-unknown-linux-musl"),
        (12, "$(ARCH)-unknown-linux-musl"),
        (14, "x86_64-unknown-linux-musl"),
    ]
    assert use_at(result, 12).resolves_to == ("aarch64-unknown-linux-musl",)


# ---------------------------------------------------------------------------
# Hostile input: a Problem with a line, never an exception


def billion_laughs() -> str:
    rows = ['a0: &a0 ["lol-x86_64-unknown-linux-musl"]']
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 12)]
    return "\n".join(rows) + "\n"


def test_alias_bomb_is_not_expanded() -> None:
    result = wf(billion_laughs())
    assert result.problems == ()
    assert lines_of(result) == [1]


def test_packed_lines_give_every_use_once() -> None:
    """Thousands of mentions, guards, images and variables (linear-time paths)."""
    n = 3000
    refs = " ".join(f"$A{i}-unknown-linux-musl" for i in range(n))
    keys = "".join(f"      A{i}: aarch64\n" for i in range(n))
    guarded = "".join(
        f"      - if: matrix.t == 'x86_64-unknown-linux-musl'\n        run: s{i}\n"
        for i in range(n)
    )
    maturin = "".join(
        "      - with:\n          manylinux: musllinux_1_2\n          target: arm64\n"
        for _ in range(n)
    )
    text = (
        f"jobs:\n  a:\n    env:\n{keys}    steps:\n      - run: {refs} {refs}\n"
        f"  b:\n    strategy:\n      matrix:\n        t: [x86_64-unknown-linux-musl]\n"
        f"    steps:\n{guarded}{maturin}"
    )
    result = wf(text)
    refs_line = n + 5
    on_line = [u for u in result.uses if u.line == refs_line]
    assert sorted(u.target for u in on_line) == sorted(
        f"$A{i}-unknown-linux-musl" for i in range(n)
    )
    assert {u.resolves_to for u in on_line} == {("aarch64-unknown-linux-musl",)}
    lines = text.split("\n")
    guards = [u for u in result.uses if "if:" in lines[u.line - 1]]
    assert len(guards) == n  # the matrix builds the triple: every guard is live
    maturin_uses = [u for u in result.uses if u.target == "musllinux_1_2"]
    assert len(maturin_uses) == n
    assert {u.resolves_to for u in maturin_uses} == {("aarch64-unknown-linux-musl",)}


def test_templated_triple_in_a_download_on_a_long_line() -> None:
    pad = "echo " + "x" * 2000
    far = " cargo build --target x86_64-unknown-linux-musl " + "y" * 600
    url = " https://example.com/tool-${{ matrix.arch }}-unknown-linux-musl.tgz"
    text = (
        "jobs:\n  a:\n    strategy:\n      matrix:\n        arch: [x86_64]\n"
        f"    steps:\n      - run: {pad}{url}\n"
        f"      - run: {pad}{far}{url}\n"
    )
    result = wf(text)
    # Only the literal triple: the templated one is a download where it stands
    # (on a long line, triples far from it do not count).
    assert [(u.line, u.target) for u in result.uses] == [
        (8, "x86_64-unknown-linux-musl")
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * 10_000 + "musl" + "]" * 10_000, 1),
        ("".join(" " * i + f"k{i}:\n" for i in range(1100)) + "musl", 65),
        ("".join(" " * i + f"k{i}:\n" for i in range(80)) + " " * 80 + "musl", 65),
    ],
    ids=["flow-10k", "block-1100", "block-80"],
)
def test_deep_nesting_gives_a_problem(text: str, line: int) -> None:
    (problem,) = wf(text).problems
    assert problem.path == ".github/workflows/ci.yml"
    assert problem.line >= 1
    assert "deep" in problem.message or "nesting" in problem.message
    if line != 1:
        assert problem.line == line


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("jobs:\n  a: [musl\n  b: 2\n", 3, "invalid YAML"),
        ("a: musl\n\x00\x01\x02binary", 2, "binary"),
        ("a: musl\nb: \x07bell\n", 2, "invalid YAML"),
        ("a: musl \udcff\n", 1, "invalid YAML"),
        ("a: musl\n" + "b: " + "x" * yamlload.MAX_TEXT_CHARS, 1, "too large"),
    ],
    ids=["unclosed", "nul", "control", "surrogate", "huge"],
)
def test_malformed_input_gives_a_problem(text: str, line: int, words: str) -> None:
    (problem,) = wf(text).problems
    assert problem == Problem(".github/workflows/ci.yml", line, problem.message)
    assert words in problem.message


def test_too_many_nodes_gives_a_problem() -> None:
    text = "musl: [" + "1," * (yamlload.MAX_EVENTS + 10) + "1]\n"
    (problem,) = wf(text).problems
    assert problem.message == "too many YAML nodes"


def test_random_bytes_never_raise() -> None:
    blob = bytes(range(256)).decode("latin-1") * 20
    for start in range(0, 256, 7):
        result = wf("musl: " + blob[start:] + blob[:start])
        assert isinstance(result, SourceResult)


def test_multiple_documents_and_crlf_line_breaks() -> None:
    text = (
        "a: 1\r\n---\r\nrun: |\r\n  echo\r\n"
        "  cargo build --target x86_64-unknown-linux-musl\r\n"
    )
    assert lines_of(wf(text)) == [5]
    text = "a: 1\rrun: |\r  cargo build --target x86_64-unknown-linux-musl\r"
    assert lines_of(wf(text)) == [3]


def test_empty_and_scalar_documents() -> None:
    assert wf("").uses == ()
    assert lines_of(wf("x86_64-unknown-linux-musl\n")) == [1]
    assert lines_of(wf("- - x86_64-unknown-linux-musl\n")) == [1]


def test_load_yaml_returns_scalars_with_paths() -> None:
    doc = yamlload.load_yaml(
        "f.yml", "a:\n  - b: c\n    x86_64-unknown-linux-musl: d\n"
    )
    assert isinstance(doc, yamlload.Document)
    # Keys are kept only when they can name a target: nothing reads other keys.
    assert [(s.path, s.value, s.is_key) for s in doc.scalars] == [
        (("a", 0, "b"), "c", False),
        (("a", 0, "x86_64-unknown-linux-musl"), "x86_64-unknown-linux-musl", True),
        (("a", 0, "x86_64-unknown-linux-musl"), "d", False),
    ]


def test_alias_keys_do_not_leak_the_previous_path() -> None:
    doc = yamlload.load_yaml("f.yml", "a: &k x\nm:\n  b: 1\n  *k : musl\n")
    assert isinstance(doc, yamlload.Document)
    assert [(s.path, s.value) for s in doc.scalars][-1] == (("m", "*"), "musl")


# ---------------------------------------------------------------------------
# shell helpers


def test_find_triples_classifies_downloads() -> None:
    found = shell.find_triples(
        "cargo build --target=x86_64-unknown-linux-musl; "
        "curl https://x.io/a/aarch64-unknown-linux-musl.tgz"
    )
    assert [(m.triple, m.download) for m in found] == [
        ("x86_64-unknown-linux-musl", True),
        ("aarch64-unknown-linux-musl", True),
    ]
    assert shell.find_triples("no triple here") == []
    (mention,) = shell.find_triples("TARGET=armv7-unknown-linux-musleabihf")
    assert (mention.start, mention.end, mention.download) == (7, 37, False)


def test_find_templated_variants() -> None:
    texts = {
        "${{ matrix.arch }}-unknown-linux-musl": ("matrix.arch", ""),
        "${ARCH}-unknown-linux-musl": ("ARCH", ""),
        "$(ARCH)-unknown-linux-musleabihf": ("ARCH", ""),
        "<< parameters.arch >>-unknown-linux-musl": ("parameters.arch", ""),
        "x86_64-unknown-linux-${{ matrix.libc }}": ("", "matrix.libc"),
    }
    for text, refs in texts.items():
        (tpl,) = shell.find_templated(text)
        assert (tpl.arch_ref, tpl.env_ref) == refs
        assert tpl.text == text
    assert shell.find_templated("x86_64-unknown-linux-musl") == []
    assert shell.find_templated("plain text") == []


def test_strip_comment_respects_quotes() -> None:
    assert shell.strip_comment("echo 'a # b' # c") == "echo 'a # b' "
    assert shell.strip_comment("a#b") == "a#b"
    assert shell.strip_comment("# all") == ""


def test_toolchain_pins_and_dynamic_flags() -> None:
    pins = shell.find_toolchain_pins("rustup toolchain install --profile minimal 1.70")
    assert pins == ["1.70"]
    assert shell.find_toolchain_pins("rustup install --no-self-update stable") == [
        "stable"
    ]
    assert shell.find_toolchain_pins("echo hi") == []
    assert shell.find_dynamic_musl("-C target-feature=+crt-static") is None
    assert shell.find_dynamic_musl("-Ctarget-feature=-crt-static") == (
        "target-feature=-crt-static"
    )


def test_musl_triple_for_arches() -> None:
    assert builders.musl_triple_for("arm64") == "aarch64-unknown-linux-musl"
    assert builders.musl_triple_for("'x86_64-unknown-linux-musl'") == (
        "x86_64-unknown-linux-musl"
    )
    assert builders.musl_triple_for("x86_64-unknown-linux-gnu") == (
        "x86_64-unknown-linux-musl"
    )
    assert builders.musl_triple_for("sparc64") is None


SCANNERS: list[Callable[[str, str], SourceResult]] = [
    workflows.scan,
    gitlab.scan,
    circleci.scan,
    cirrus.scan,
    azure.scan,
]


@pytest.mark.parametrize("scan", SCANNERS)
def test_every_scanner_handles_bad_yaml(
    scan: Callable[[str, str], SourceResult],
) -> None:
    (problem,) = scan("f.yml", "musl: [\n").problems
    assert problem.line == 2


def test_segments_needle_keeps_only_lines_holding_it() -> None:
    text = (
        "a: |\n"
        "  echo x86_64-unknown-linux-musl # aarch64-unknown-linux-musl\n"
        "  echo none\n"
        "b: x86_64-unknown-linux-musl\n"
        "  and more\n"
    )
    doc = yamlload.load_yaml("f.yml", text)
    assert isinstance(doc, yamlload.Document)
    block, plain = doc.scalars
    lines = doc.lines
    assert [s.line for s in yamlload.segments(block, lines)] == [2, 3]
    kept = yamlload.segments(block, lines, "-linux-musl")
    assert kept == [yamlload.Segment(2, "  echo x86_64-unknown-linux-musl ")]
    assert yamlload.segments(block, lines, "aarch64") == [
        yamlload.Segment(2, "  echo x86_64-unknown-linux-musl ")
    ]  # the needle is looked for before the comment is cut
    assert [s.line for s in yamlload.segments(plain, lines)] == [4, 5]
    assert yamlload.segments(plain, lines, "-linux-musl") == [
        yamlload.Segment(4, "x86_64-unknown-linux-musl")
    ]
