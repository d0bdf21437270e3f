"""Severity rules (docs/domain.md section 9) on real lockfiles from the corpus."""

from __future__ import annotations

import pytest

from bot.core.findings import Evidence, Report, Rule, Severity, Verdict, decide
from bot.core.fixes import FixPlan
from bot.core.lockfile import Lockfile, parse_lockfile
from bot.core.sources import Hint, HintKind, MuslUse, Problem, UseKind
from tests.paths import CORPUS


def lock(case: str, path: str = "Cargo.lock") -> Lockfile:
    return parse_lockfile((CORPUS / case / path).read_text(), path)


TOKEI = "XAMPPRocky__tokei@f6b8cadeba"  # libc 0.2.131 + getrandom 0.2.7
RIPGREP = "BurntSushi__ripgrep@a7f1276021"  # libc 0.2.144, no trigger crate
BINSTALL = "cargo-bins__cargo-binstall@6b5384608e"  # libc 0.2.145 (yanked)
ZOXIDE = "ajeetdsouza__zoxide@e3ef7c9b41"  # libc 0.2.186
ION = "redox-os__ion@e317e16bd9"  # v1, libc 0.2.64 (git) + 0.2.65
JUST_OLD = "casey__just@935f1130ac"  # v1, libc 0.2.78 + getrandom 0.1.15

USE = MuslUse(
    ".github/workflows/release.yml",
    10,
    "x86_64-unknown-linux-musl",
    UseKind.WORKFLOW,
    resolves_to=("x86_64-unknown-linux-musl",),
)
ARM = MuslUse(
    "Cross.toml",
    1,
    "armv7-unknown-linux-musleabihf",
    UseKind.CROSS,
    resolves_to=("armv7-unknown-linux-musleabihf",),
)


def report(
    case: str,
    uses: tuple[MuslUse, ...] = (USE,),
    hints: tuple[Hint, ...] = (),
    *,
    latent_notices: bool = True,
) -> Report:
    return decide(
        Evidence(
            root=lock(case),
            nested=(),
            uses=uses,
            hints=hints,
            problems=(),
            fixes=(),
            latent_notices=latent_notices,
        )
    )


def rules(rep: Report) -> list[tuple[Rule, Severity, str, int]]:
    return [(f.rule, f.severity, f.path, f.line) for f in rep.findings]


def test_trigger_crate_makes_a_failure_on_the_libc_line() -> None:
    rep = report(TOKEI)
    assert rep.verdict is Verdict.AT_RISK
    libc = lock(TOKEI).named("libc")[0]
    assert rules(rep) == [(Rule.LIBC_LFS64, Severity.FAILURE, "Cargo.lock", libc.line)]
    message = rep.findings[0].message
    assert "getrandom 0.2.7" in message
    assert "1.93" in message
    assert ".github/workflows/release.yml:10" in message


def test_no_trigger_is_a_warning() -> None:
    rep = report(RIPGREP)
    assert rules(rep) == [(Rule.LIBC_MAY_BREAK, Severity.WARNING, "Cargo.lock", 290)]


def test_pinned_old_toolchain_warns_breaks_on_update() -> None:
    pin = Hint("rust-toolchain.toml", 2, HintKind.TOOLCHAIN, "1.80.0")
    rep = report(TOKEI, hints=(pin,))
    assert [r[:2] for r in rules(rep)] == [(Rule.LIBC_MAY_BREAK, Severity.WARNING)]
    assert "when you update Rust" in rep.findings[0].message


def test_pin_in_same_file_wins_over_global_pin() -> None:
    glob = Hint("rust-toolchain.toml", 2, HintKind.TOOLCHAIN, "1.80.0")
    local = Hint(USE.path, 5, HintKind.TOOLCHAIN, "stable")
    assert rules(report(TOKEI, hints=(glob, local)))[0][1] is Severity.FAILURE


def test_other_musl_targets_broke_at_rust_1_74() -> None:
    pin = Hint("rust-toolchain.toml", 2, HintKind.TOOLCHAIN, "1.80.0")
    rep = report(TOKEI, uses=(ARM,), hints=(pin,))
    assert rules(rep)[0][:2] == (Rule.LIBC_LFS64, Severity.FAILURE)


def test_system_musl_breaks_whatever_the_pin() -> None:
    pin = Hint("rust-toolchain.toml", 2, HintKind.TOOLCHAIN, "1.70")
    alpine = Hint("Dockerfile", 1, HintKind.SYSTEM_MUSL, "alpine:3.19")
    rep = report(TOKEI, hints=(pin, alpine))
    assert (Rule.LIBC_LFS64, Severity.FAILURE) in [r[:2] for r in rules(rep)]
    # Rust 1.70's own std binds LFS64 names: a separate warning on the pin.
    assert (Rule.OLD_STD, Severity.WARNING, "rust-toolchain.toml", 2) in rules(rep)


def test_yanked_0_2_145_with_musl_is_a_failure() -> None:
    rep = report(BINSTALL)
    assert [r[:2] for r in rules(rep)] == [(Rule.LIBC_YANKED, Severity.FAILURE)]
    assert "E0061" in rep.findings[0].message


def test_old_libc_without_musl_is_a_quiet_notice() -> None:
    rep = report(TOKEI, uses=())
    assert rep.verdict is Verdict.OLD_LIBC
    assert [r[:2] for r in rules(rep)] == [(Rule.LATENT, Severity.NOTICE)]
    assert report(TOKEI, uses=(), latent_notices=False).findings == ()
    assert [r[:2] for r in rules(report(BINSTALL, uses=()))] == [
        (Rule.LATENT, Severity.NOTICE)
    ]


def test_new_libc_has_nothing_to_say() -> None:
    rep = report(ZOXIDE)
    assert rep.verdict is Verdict.MUSL_LIBC_OK
    assert rep.findings == ()
    assert report(ZOXIDE, uses=()).verdict is Verdict.CLEAN


def test_git_libc_and_two_libcs_are_not_autofixable() -> None:
    rep = report(ION)
    found = rules(rep)
    assert rep.verdict is Verdict.AT_RISK
    assert sum(r[0] is Rule.NOT_AUTOFIXABLE for r in found) == 2
    assert any("git source" in f.message for f in rep.findings)
    assert any("2 libc packages" in f.message for f in rep.findings)


def test_v1_lockfile_trigger_getrandom_0_1() -> None:
    rep = report(JUST_OLD)
    assert rules(rep)[0][:2] == (Rule.LIBC_LFS64, Severity.FAILURE)
    assert "getrandom 0.1.15" in rep.findings[0].message


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        (HintKind.LIBC_PIN, "=0.2.140", "pins libc"),
        (HintKind.LIBC_PATCH, "git", "patches libc"),
        (HintKind.VENDORED, "vendored-sources", "cargo vendor"),
    ],
)
def test_blockers_warn_where_they_are(kind: HintKind, value: str, words: str) -> None:
    hint = Hint("Cargo.toml", 12, kind, value)
    rep = report(TOKEI, hints=(hint,))
    blocker = [f for f in rep.findings if f.rule is Rule.NOT_AUTOFIXABLE]
    assert [(f.path, f.line) for f in blocker] == [("Cargo.toml", 12)]
    assert words in blocker[0].message


def test_rustix_is_a_trigger_on_libc_backend_arches() -> None:
    ppc = MuslUse(
        "Cross.toml",
        3,
        "powerpc64le-unknown-linux-musl",
        UseKind.CROSS,
        resolves_to=("powerpc64le-unknown-linux-musl",),
    )
    hexyl = "sharkdp__hexyl@b6b7e2c79a"  # libc 0.2.138, rustix 0.36.5, no getrandom
    assert rules(report(hexyl, uses=(ppc,)))[0][1] is Severity.FAILURE
    assert rules(report(hexyl))[0][1] is Severity.WARNING


def test_problems_become_unreadable_findings() -> None:
    rep = decide(
        Evidence(
            root=None,
            nested=(),
            uses=(),
            hints=(),
            problems=(Problem(".cirrus.yml", 7, "bad YAML"),),
            fixes=(),
        )
    )
    assert rules(rep) == [(Rule.UNREADABLE, Severity.WARNING, ".cirrus.yml", 7)]
    assert rep.findings[0].message == "bad YAML (the verdict cannot be sure without it)"
    # The file may hold a musl build: unsure is never "clean".
    assert rep.verdict is Verdict.COULD_NOT_ANALYSE
    assert rep.root_lockfile is None


def test_a_problem_with_a_file_still_read_whole_changes_no_verdict() -> None:
    problem = Problem("ci.yml", 3, "ci.yml is not valid UTF-8 (line 3)", unread=False)
    rep = decide(Evidence(None, (), (), (), (problem,), ()))
    assert rep.verdict is Verdict.CLEAN
    assert rep.findings[0].message == "ci.yml is not valid UTF-8 (line 3)"


def test_fix_text_comes_from_the_plan_of_that_lockfile() -> None:
    other = FixPlan("fuzz/Cargo.lock", "0.2.131", "0.2.172", "cargo update -p x")
    mine = FixPlan("Cargo.lock", "0.2.131", "0.2.172", "cargo update -p libc")
    rep = decide(Evidence(lock(TOKEI), (), (USE,), (), (), (other, mine)))
    assert rep.findings[0].fix == "Run `cargo update -p libc`."
    lone = decide(Evidence(lock(TOKEI), (), (USE,), (), (), (other,)))
    assert "libc >= 0.2.146" in lone.findings[0].fix
