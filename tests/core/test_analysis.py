"""analyse() on in-memory snapshots: config filters, odd versions, path scope."""

from __future__ import annotations

import pytest

from bot.core.analysis import analyse
from bot.core.config import parse_config
from bot.core.findings import Rule, Severity, Verdict
from bot.core.scope import is_lockfile, scanner_for, shows_rust, wanted
from tests.paths import CORPUS

TOKEI = CORPUS / "XAMPPRocky__tokei@f6b8cadeba"
LOCK_HEAD = (
    "version = 3\n\n"
    '[[package]]\nname = "{name}"\nversion = "{version}"\n'
    'source = "registry+https://github.com/rust-lang/crates.io-index"\n'
    'checksum = "{sum}"\n'
)
WORKFLOW = (
    "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
    "      - run: cargo build --target x86_64-unknown-linux-musl\n"
    "      - run: cargo build --target armv7-unknown-linux-musleabihf\n"
)


def lockfile(*packages: tuple[str, str]) -> bytes:
    parts = [
        LOCK_HEAD.format(name=packages[0][0], version=packages[0][1], sum="a" * 64)
    ]
    for name, version in packages[1:]:
        parts.append(
            LOCK_HEAD.split("\n\n", 1)[1].format(
                name=name, version=version, sum="b" * 64
            )
        )
    return "\n".join(parts).encode()


def test_ignored_targets_drop_their_uses() -> None:
    files = {
        "Cargo.lock": (TOKEI / "Cargo.lock").read_bytes(),
        ".github/workflows/ci.yml": WORKFLOW.encode(),
    }
    assert len(analyse(files).musl_uses) == 2
    config, errors = parse_config("ignore_targets: ['armv7-*']\n")
    assert errors == []
    kept = analyse(files, config).musl_uses
    assert [u.target for u in kept] == ["x86_64-unknown-linux-musl"]
    everything, _ = parse_config("ignore_targets: ['*-linux-musl*']\n")
    report = analyse(files, everything)
    assert report.musl_uses == ()
    assert report.verdict is Verdict.OLD_LIBC


def test_legacy_libc_0_1_is_a_warning_never_autofixed() -> None:
    files = {
        "Cargo.lock": lockfile(("libc", "0.1.12")),
        ".github/workflows/ci.yml": WORKFLOW.encode(),
    }
    report = analyse(files)
    assert report.verdict is Verdict.AT_RISK
    [finding] = report.findings
    assert (finding.rule, finding.severity) == (Rule.NOT_AUTOFIXABLE, Severity.WARNING)
    assert "Legacy libc 0.1.12" in finding.message


def test_odd_trigger_versions_are_not_triggers() -> None:
    files = {
        "Cargo.lock": lockfile(("libc", "0.2.140"), ("getrandom", "0.2.x")),
        ".github/workflows/ci.yml": WORKFLOW.encode(),
    }
    [finding] = analyse(files).findings
    assert finding.rule is Rule.LIBC_MAY_BREAK  # no known caller: a warning


def test_fix_text_names_the_planned_command() -> None:
    files = {
        "Cargo.lock": (TOKEI / "Cargo.lock").read_bytes(),
        ".github/workflows/ci.yml": WORKFLOW.encode(),
    }
    [finding] = analyse(files).findings
    assert finding.fix == "Run `cargo update -p libc`."


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Cargo.lock", True),
        ("fuzz/Cargo.lock", True),
        ("target/debug/Cargo.lock", False),
        ("vendor/x/Dockerfile", False),
        ("docker/Dockerfile.musl", True),
        ("build/app.dockerfile", True),
        (".github/workflows/ci.yml", True),
        (".github/workflows/sub/ci.yml", False),
        (".github/musl-check.yml", True),
        ("src/main.rs", False),
        ("docker/Dockerfile/", True),  # a trailing slash: pathlib's reading
        ("node_modules/x/./", False),
    ],
)
def test_scope(path: str, expected: bool) -> None:
    assert wanted(path) is expected


def test_lockfile_and_scanner_lookup() -> None:
    assert is_lockfile("a/b/Cargo.lock/.")
    assert scanner_for("Cross.toml") is not None
    assert scanner_for("sub/Cross.toml") is None


def test_rust_marker_files() -> None:
    marks = [
        "Cargo.toml",
        "crates/x/Cargo.toml",  # a member's manifest: never read, still Rust
        "Cargo.lock",
        "crates/x/Cargo.lock",
        "rust-toolchain",
        "rust-toolchain.toml",
        ".cargo/config.toml",
        "Cross.toml",
        "dist-workspace.toml",
        ".github/musl-check.yml",  # the repository asks for the App
    ]
    assert all(shows_rust(p) for p in marks)
    others = [
        "package.json",
        "Dockerfile",
        ".github/workflows/ci.yml",
        "Cargo.lock.orig",
        "docs/rust-toolchain.toml",
    ]
    assert not any(shows_rust(p) for p in others)
