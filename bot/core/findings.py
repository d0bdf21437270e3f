"""Rules that turn lockfiles, musl uses and hints into findings and a verdict."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.core.fixes import FixPlan
from bot.core.lockfile import Lockfile
from bot.core.sources import Hint, MuslUse, Problem


class Severity(StrEnum):
    """How bad a finding is; maps to check-run annotation levels."""

    FAILURE = "failure"
    WARNING = "warning"
    NOTICE = "notice"


class Verdict(StrEnum):
    """The one-word answer (scan JSON `verdict`)."""

    AT_RISK = "at-risk"
    OLD_LIBC = "old-libc"
    MUSL_LIBC_OK = "musl-libc-ok"
    CLEAN = "clean"


class Rule(StrEnum):
    """Finding identifiers (scan JSON `rule`, SARIF rule ids)."""

    LIBC_LFS64 = "libc-lfs64"  # old libc + musl build: will not link
    LIBC_YANKED = "libc-yanked"  # 0.2.145
    LIBC_MAY_BREAK = "libc-may-break"  # old libc + musl, no trigger / old toolchain
    OLD_STD = "old-std"  # Rust <= 1.71 against a system musl >= 1.2.4
    NOT_AUTOFIXABLE = "not-autofixable"  # git/path libc, pins, vendored, several
    LATENT = "libc-latent"  # old libc, no musl build found
    C_CODE = "c-code"  # bundled C in -sys crates
    MUSL_USE = "musl-use"  # where the musl build is (annotation target)
    UNREADABLE = "unreadable"  # malformed / binary / oversized input


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to tell the maintainer, at one line of one file."""

    rule: Rule
    severity: Severity
    path: str
    line: int
    message: str
    fix: str = ""


@dataclass(frozen=True, slots=True)
class Report:
    """The whole analysis of one snapshot."""

    verdict: Verdict
    lockfiles: tuple[Lockfile, ...]  # root first, then nested ones by path
    musl_uses: tuple[MuslUse, ...]
    findings: tuple[Finding, ...]
    hints: tuple[Hint, ...] = ()
    problems: tuple[Problem, ...] = ()
    fixes: tuple[FixPlan, ...] = ()
    root_lockfile: str | None = None  # path of the root Cargo.lock, if committed
