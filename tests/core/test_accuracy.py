"""Which lockfile a musl build uses, what could not be read, and the shapes of
real build files around them (tests/fixtures/accuracy has whole cases)."""

from __future__ import annotations

import dataclasses

import pytest

from bot.core.analysis import analyse, build_args, lockfiles_needed
from bot.core.findings import Rule, Verdict, add_problems
from bot.core.render import check_run_output, render_text
from bot.core.sources import Problem, docker, gitlab, make, workflows
from bot.core.sources.shell import command_dir, join_dir, manifest_dir
from tests.paths import CORPUS

OLD_LOCK = (CORPUS / "sharkdp__bat@f34b852aa8" / "Cargo.lock").read_bytes()
NEW_LOCK = (CORPUS / "ajeetdsouza__zoxide@e3ef7c9b41" / "Cargo.lock").read_bytes()
OLD_LIBC_LINE = 692  # libc 0.2.137 in bat's lockfile
RELEASE = b"""\
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: cargo build --release --target x86_64-unknown-linux-musl
"""


def projects(result: object) -> list[tuple[int, str]]:
    uses = getattr(result, "uses", ())
    return [(u.line, u.project) for u in uses]


# -- where a build runs ------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "base", "want"),
    [
        ("rust", "", "rust"),
        ("./rust/", "", "rust"),
        ("..", "a/b", "a"),
        (".", "", ""),
        ("${{ github.workspace }}/crates/cli", "elsewhere", "crates/cli"),
        ("$GITHUB_WORKSPACE", "x", ""),
        ("'sub dir'", "", "sub dir"),
        ("/opt/app", "", None),
        ("~/src", "", None),
        ("${{ matrix.dir }}", "", None),
        ("..", "", None),
        ("../other", "", None),
    ],
)
def test_join_dir(rel: str, base: str, want: str | None) -> None:
    assert join_dir(base, rel) == want


def test_manifest_dir_and_command_dir() -> None:
    assert manifest_dir("rust/Cargo.toml") == "rust"
    assert manifest_dir("Cargo.toml") == "."
    assert manifest_dir('"tools/gen"') == "tools/gen"
    assert command_dir("cd rust && cargo build --release", "") == "rust"
    assert command_dir("cargo build --manifest-path=cli/Cargo.toml", "x") == "x/cli"
    assert command_dir("cd $HOME/src && cargo build", "") is None
    assert (
        command_dir("cd /tmp && cargo build --manifest-path a/Cargo.toml", "") is None
    )
    assert command_dir("cargo build --release", "") is None
    # `cd` after the build does not move it.
    assert command_dir("cargo build; cd docs", "") is None


def test_workflow_directories_from_defaults_actions_and_cd() -> None:
    text = """\
on: push
defaults:
  run:
    working-directory: app
jobs:
  top-default:
    runs-on: ubuntu-latest
    steps:
      - run: cargo build --target x86_64-unknown-linux-musl
  job-default:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: ./server
    steps:
      - run: cargo build --target aarch64-unknown-linux-musl
  action:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        target: [armv7-unknown-linux-musleabihf]
        dir: [a, b]
    steps:
      - uses: actions/checkout@v4
        with:
          working-directory: ${{ matrix.dir }}
      - uses: houseabsolute/actions-rust-cross@v0
        with:
          command: build
          target: ${{ matrix.target }}
          manifest-path: crates/cli/Cargo.toml
  shell:
    runs-on: ubuntu-latest
    steps:
      - run: |
          cd tools
          cd gen
          cross build --target i686-unknown-linux-musl
"""
    found = workflows.scan(".github/workflows/ci.yml", text)
    assert projects(found) == [
        (9, "app"),
        (16, "server"),
        (21, "crates/cli"),  # an action: `defaults.run` is for run steps only
        (38, "app/tools/gen"),
    ]


def test_gitlab_cd_in_an_earlier_script_item_and_a_global_alpine_image() -> None:
    text = """\
image: alpine:3.20

build:musl:
  before_script:
    - apk add --no-cache rust cargo
    - cd rust
  script:
    - cargo build --release --target x86_64-unknown-linux-musl
"""
    found = gitlab.scan(".gitlab-ci.yml", text)
    assert [(u.line, u.target, u.project) for u in found.uses] == [
        (1, "alpine:3.20", "rust"),
        (8, "x86_64-unknown-linux-musl", "rust"),
    ]


def test_alpine_job_without_alpine_rust_is_no_build() -> None:
    text = """\
jobs:
  package:
    runs-on: ubuntu-latest
    container: alpine:3.20
    steps:
      - run: apk add --no-cache make && make dist
"""
    assert workflows.scan(".github/workflows/pkg.yml", text).uses == ()


def test_native_alpine_on_arm_builds_for_aarch64() -> None:
    text = """\
jobs:
  test:
    runs-on: ubuntu-24.04-arm
    container: arm64v8/alpine:3.20
    steps:
      - run: apk add --no-cache cargo
      - run: cargo test
"""
    (use,) = workflows.scan(".github/workflows/ci.yml", text).uses
    assert use.resolves_to == ("aarch64-unknown-linux-musl",)


def test_docker_cd_and_manifest_path_inside_run() -> None:
    text = """\
FROM rust:1.80-alpine AS build
WORKDIR /src
COPY . .
RUN cd services/api && cargo build --release
FROM rust:1.80-alpine AS tool
WORKDIR /w
COPY tools/ ./tools/
RUN cargo build --manifest-path tools/gen/Cargo.toml
"""
    found = docker.scan("Dockerfile", text)
    assert projects(found) == [(1, "services/api"), (5, "tools/gen")]


def test_docker_copies_of_urls_and_variables_name_no_project() -> None:
    # A remote ADD and a COPY through a variable say nothing of where the
    # repository's code lands, though they fill the build's directory first;
    # the plain COPY does.
    text = """\
FROM rust:1.80-alpine AS build
WORKDIR /src
ADD https://example.com/vendor.tar.gz ./
COPY $EXTRA ./
COPY rust/ ./
RUN cargo build --release
"""
    assert projects(docker.scan("Dockerfile", text)) == [(1, "rust")]


def test_docker_in_a_sub_directory_copying_itself() -> None:
    text = "FROM rust:alpine\nARG EMPTY=\nCOPY . .\nRUN cargo build --release\n"
    assert projects(docker.scan("rust/Dockerfile", text)) == [(1, "rust")]


def test_docker_two_spellings_of_one_triple_make_one_use() -> None:
    text = """\
ARG FEATURES=default
FROM rust:1.80 AS build
RUN cargo build --target x86_64-unknown-linux-${LIBC:-musl} --features $FEATURES
"""
    found = docker.scan_with_args("Dockerfile", text, {"FEATURES": ("tls",)})
    assert [(u.line, u.target) for u in found.uses] == [
        (3, "x86_64-unknown-linux-musl")
    ]


def test_docker_installer_arguments_on_a_continuation_line() -> None:
    text = """\
FROM rust:1.80 AS build
RUN curl -LsSf https://just.systems/install.sh | bash -s -- \\
      --to /usr/local/bin --target x86_64-unknown-linux-musl
RUN curl https://sh.rustup.rs -sSf | sh -s -- -y \\
      --target aarch64-unknown-linux-musl
"""
    found = docker.scan("Dockerfile", text)
    assert [(u.line, u.target) for u in found.uses] == [
        (5, "aarch64-unknown-linux-musl")
    ]


def test_make_installer_line_is_no_build() -> None:
    text = (
        "tools:\n\tcurl -LsSf https://example.com/install.sh | sh -s -- "
        "--git cargo-bins/cargo-binstall --target x86_64-unknown-linux-musl\n"
        "static:\n\tcd cli && cargo build --target x86_64-unknown-linux-musl\n"
    )
    assert projects(make.scan("justfile", text)) == [(4, "cli")]


# -- the lockfile a build uses -----------------------------------------------


def test_build_args_from_ci_files() -> None:
    files = {
        ".github/workflows/docker.yml": b"""\
jobs:
  image:
    steps:
      - run: docker build --build-arg LIBC=musl --build-arg=ARCH=aarch64 .
      - uses: docker/build-push-action@v6
        with:
          build-args: |
            LIBC=musl
            VERSION=${{ github.ref_name }}
            ARCH=x86_64
          push: false
      - run: echo KEY=value
""",
        "Makefile": b"image:\n\tdocker build --build-arg ARCH=x86_64 .\n",
        ".gitlab-ci.yml": b"image:\n  variables:\n    build-args: |\n      LIBC=musl",
        "Cargo.lock": b"# build-arg LIBC=gnu is not read here\n",
    }
    assert build_args(files) == {"LIBC": ("musl",), "ARCH": ("aarch64", "x86_64")}


def test_a_lockfile_read_whole_despite_bad_utf8_is_judged() -> None:
    lock = OLD_LOCK.replace(b"# This file", b"# \xe9 This file", 1)
    report = analyse({"Cargo.lock": lock, ".github/workflows/r.yml": RELEASE})
    assert report.verdict is Verdict.AT_RISK
    assert {f.rule for f in report.findings} >= {Rule.LIBC_LFS64, Rule.UNREADABLE}


def test_oversized_lockfile_is_could_not_analyse() -> None:
    from bot.core.analysis import MAX_LOCKFILE_BYTES

    big = NEW_LOCK + b"#" * MAX_LOCKFILE_BYTES
    report = analyse({"Cargo.lock": big, ".github/workflows/r.yml": RELEASE})
    assert report.verdict is Verdict.COULD_NOT_ANALYSE
    text = render_text(report, color=False)
    assert text.startswith("musl-check: could not analyse: musl-check could not read")
    assert check_run_output(report).title == "Could not analyse: Cargo.lock not read"
    assert check_run_output(report).conclusion.value == "neutral"


def test_unread_nested_lockfile_no_build_uses_changes_nothing() -> None:
    report = analyse(
        {
            "Cargo.lock": NEW_LOCK,
            "fuzz/Cargo.lock": b"\x1f\x8b\x08\x00binary",
            ".github/workflows/r.yml": RELEASE,
        }
    )
    assert report.verdict is Verdict.MUSL_LIBC_OK
    assert [(f.rule, f.path) for f in report.findings] == [
        (Rule.UNREADABLE, "fuzz/Cargo.lock")
    ]


def test_old_root_lockfile_that_no_build_uses_gets_the_latent_notice() -> None:
    workflow = RELEASE.replace(
        b"cargo build", b"cargo build --manifest-path app/Cargo.toml"
    )
    report = analyse(
        {
            "Cargo.lock": OLD_LOCK,
            "app/Cargo.lock": NEW_LOCK,
            ".github/workflows/r.yml": workflow,
        }
    )
    assert report.verdict is Verdict.MUSL_LIBC_OK
    assert [u.lockfile for u in report.musl_uses] == ["app/Cargo.lock"]
    assert [(f.rule, f.path, f.line) for f in report.findings] == [
        (Rule.LATENT, "Cargo.lock", OLD_LIBC_LINE)
    ]
    assert "app/Cargo.lock" in render_text(report, color=False)


def test_use_without_any_lockfile_resolves_fresh() -> None:
    report = analyse({"rust/Cargo.lock": OLD_LOCK, ".github/workflows/r.yml": RELEASE})
    assert report.verdict is Verdict.MUSL_LIBC_OK
    assert [u.lockfile for u in report.musl_uses] == [None]


# -- problems met before the analysis ------------------------------------------


def test_add_problems_from_a_cut_tree_walk() -> None:
    ok = analyse({"Cargo.lock": NEW_LOCK, ".github/workflows/r.yml": RELEASE})
    assert add_problems(ok, ()) is ok
    walk = Problem("", 1, "repository tree too large: 3 directories not read")
    unsure = add_problems(ok, (walk,))
    assert unsure.verdict is Verdict.COULD_NOT_ANALYSE
    assert unsure.findings == ok.findings  # no line to put it on
    too_big = Problem("Cargo.lock", 1, "Cargo.lock is over the limit; skipped")
    assert add_problems(ok, (too_big,)).findings[-1].rule is Rule.UNREADABLE
    assert unsure.problems[-1] == walk
    title = check_run_output(unsure).title
    assert title == "Could not analyse: part of the repository tree not read"
    read = dataclasses.replace(walk, unread=False)
    assert add_problems(ok, (read,)).verdict is Verdict.MUSL_LIBC_OK
    risky = analyse({"Cargo.lock": OLD_LOCK, ".github/workflows/r.yml": RELEASE})
    assert add_problems(risky, (walk,)).verdict is Verdict.AT_RISK


def test_fork_builder_images_in_ci() -> None:
    text = """\
jobs:
  static:
    runs-on: ubuntu-latest
    container: ghcr.io/acme/rust-musl-cross:aarch64-musl
    steps:
      - run: cargo build --release
  host:
    runs-on: ubuntu-latest
    steps:
      - run: docker run --rm -v "$PWD":/volume acme/muslrust:stable cargo build
"""
    found = workflows.scan(".github/workflows/ci.yml", text)
    assert [(u.line, u.target, u.resolves_to) for u in found.uses] == [
        (4, "acme/rust-musl-cross:aarch64-musl", ("aarch64-unknown-linux-musl",)),
        (10, "acme/muslrust:stable", ("x86_64-unknown-linux-musl",)),
    ]


def test_lockfiles_needed_by_the_builds() -> None:
    files = {
        ".github/workflows/r.yml": RELEASE.replace(
            b"cargo build", b"cargo build --manifest-path rust/cli/Cargo.toml"
        ),
        "Makefile": b"m:\n\tcargo build --target x86_64-unknown-linux-musl\n",
        "Cargo.lock": b"ignored: lockfiles are not configuration",
    }
    listed = ["Cargo.lock", "rust/Cargo.lock", "fuzz/Cargo.lock"]
    assert lockfiles_needed(files, listed) == {"rust/Cargo.lock"}
    assert lockfiles_needed(files, listed[1:2]) == {"rust/Cargo.lock"}


def test_unreadable_nested_lockfile_a_build_uses_is_could_not_analyse() -> None:
    workflow = RELEASE.replace(
        b"      - run:", b"      - working-directory: rust\n        run:"
    )
    report = analyse(
        {
            "Cargo.lock": NEW_LOCK,
            "rust/Cargo.lock": b"\x1f\x8b\x08\x00\x00binary",
            ".github/workflows/r.yml": workflow,
        }
    )
    assert [u.lockfile for u in report.musl_uses] == ["rust/Cargo.lock"]
    assert report.verdict is Verdict.COULD_NOT_ANALYSE


def test_findings_on_a_nested_lockfile_name_it() -> None:
    workflow = RELEASE.replace(b"cargo build", b"cd rust && cargo build")
    report = analyse({"rust/Cargo.lock": OLD_LOCK, ".github/workflows/r.yml": workflow})
    (finding,) = report.findings
    assert (finding.rule, finding.path, finding.line) == (
        Rule.LIBC_LFS64,
        "rust/Cargo.lock",
        OLD_LIBC_LINE,
    )
    assert "getrandom 0.2.7 (rust/Cargo.lock:536)" in finding.message
    assert finding.fix == (
        "Run `cargo update -p libc --manifest-path rust/Cargo.toml` (libc >= 0.2.146)."
    )
