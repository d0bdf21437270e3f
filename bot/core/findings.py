"""Rules that turn lockfiles, musl uses and hints into findings and a verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from bot.core.fixes import FixPlan
from bot.core.lockfile import LockedPackage, Lockfile, SourceKind
from bot.core.scope import LOCKFILE_NAME, ROOT_LOCKFILE, is_lockfile
from bot.core.sources import Hint, HintKind, MuslUse, Problem
from bot.core.targets import bundled_musl_breaks
from bot.core.versions import (
    LIBC_FIXED,
    LIBC_YANKED_FIX,
    Version,
    parse_rust_version,
    parse_version,
)


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
    # A lockfile a build uses (or the root one), or a file that may hold a
    # musl build, could not be read: never "ok" on a guess (docs/architecture.md).
    COULD_NOT_ANALYSE = "could-not-analyse"


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


# Crates whose old releases call an LFS64 function through libc on musl
# (docs/domain.md 5.3): getrandom 0.1.9-0.1.16 and 0.2.0-0.2.8 call `open64`
# (rust-random/getrandom PR 326), tempfile 2.1.1-2.1.5 calls `open64`/`fstat64`.
_TRIGGERS: Final = (
    ("getrandom", Version(0, 1, 9), Version(0, 1, 16)),
    ("getrandom", Version(0, 2, 0), Version(0, 2, 8)),
    ("tempfile", Version(2, 1, 1), Version(2, 1, 5)),
)
# rustix's libc backend (used on these architectures) aliases fstat64, lseek64...
_RUSTIX_LIBC_ARCHES: Final = ("powerpc64", "s390x", "mips")
_RUST_STD_FIXED: Final = Version(1, 72, 0)  # std stopped binding LFS64 names


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything the rules look at, gathered from one snapshot."""

    root: Lockfile | None
    nested: tuple[Lockfile, ...]
    uses: tuple[MuslUse, ...]
    hints: tuple[Hint, ...]
    problems: tuple[Problem, ...]
    fixes: tuple[FixPlan, ...]
    latent_notices: bool = True
    unread_lockfiles: tuple[str, ...] = ()  # paths of lockfiles not (fully) read


def _version(text: str) -> Version | None:
    return parse_version(text)


def _is_old(pkg: LockedPackage) -> bool:
    version = _version(pkg.version)
    return version is not None and version < LIBC_FIXED


_TRIGGER_NAMES: Final = frozenset({"rustix", *(name for name, _, _ in _TRIGGERS)})


def _is_trigger(pkg: LockedPackage, rustix_arch: bool) -> bool:
    if pkg.name not in _TRIGGER_NAMES:
        return False  # most packages: no version parse needed
    version = _version(pkg.version)
    if version is None:
        return False
    if pkg.name == "rustix":
        return rustix_arch
    return any(
        pkg.name == name and low <= version <= high for name, low, high in _TRIGGERS
    )


def _triggers(lock: Lockfile, uses: Sequence[MuslUse]) -> list[LockedPackage]:
    rustix_arch = any(
        triple.startswith(_RUSTIX_LIBC_ARCHES)
        for use in uses
        for triple in use.resolves_to
    )
    return [pkg for pkg in lock.packages if _is_trigger(pkg, rustix_arch)]


_GLOBAL_PIN_FILES: Final = ("rust-toolchain.toml", "rust-toolchain")


def _breaking(uses: Sequence[MuslUse], hints: Sequence[Hint]) -> list[MuslUse]:
    """Return the uses whose toolchain links a musl >= 1.2.4.

    A system or dynamic musl breaks every use. Otherwise the Rust release that
    builds a use is the first toolchain pin in its own file, else the first in
    a rust-toolchain file, else stable (None); the hints are read once.
    """
    if any(h.kind in (HintKind.SYSTEM_MUSL, HintKind.DYNAMIC_MUSL) for h in hints):
        return list(uses)
    file_pins: dict[str, str] = {}  # path -> its first toolchain pin
    global_pin: str | None = None
    for hint in hints:
        if hint.kind is HintKind.TOOLCHAIN:
            file_pins.setdefault(hint.path, hint.value)
            if global_pin is None and hint.path in _GLOBAL_PIN_FILES:
                global_pin = hint.value
    versions: dict[str, Version | None] = {}
    out: list[MuslUse] = []
    for use in uses:
        value = file_pins.get(use.path, global_pin)
        pin = None
        if value is not None:
            if value not in versions:
                versions[value] = parse_rust_version(value)
            pin = versions[value]
        if any(bundled_musl_breaks(t, pin) for t in use.resolves_to or (use.target,)):
            out.append(use)
    return out


def _where(pkg: LockedPackage) -> str:
    return f"{pkg.name} {pkg.version}"


def _use_list(uses: Sequence[MuslUse], limit: int = 3) -> str:
    shown = ", ".join(f"{u.path}:{u.line}" for u in uses[:limit])
    more = len(uses) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _trigger_list(triggers: Sequence[LockedPackage], path: str, limit: int = 5) -> str:
    shown = ", ".join(f"{_where(t)} ({path}:{t.line})" for t in triggers[:limit])
    more = len(triggers) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _fix_text(fixes: Sequence[FixPlan], path: str) -> str:
    for plan in fixes:
        if plan.path == path:
            return f"Run `{plan.command}`."
    where = path.rpartition("/")[0]
    manifest = f" --manifest-path {where}/Cargo.toml" if where else ""
    return f"Run `cargo update -p libc{manifest}` (libc >= 0.2.146)."


def _blockers(ev: Evidence, lock: Lockfile, root: bool) -> list[Finding]:
    """Return warnings for what stops the lockfile fix from being automatic.

    Pins, patches and vendoring are read from the root project's files only.
    """
    out: list[Finding] = []
    libcs = lock.named("libc")
    for pkg in libcs:
        if pkg.source_kind is not SourceKind.REGISTRY and _is_old(pkg):
            out.append(
                Finding(
                    Rule.NOT_AUTOFIXABLE,
                    Severity.WARNING,
                    lock.path,
                    pkg.line,
                    f"libc {pkg.version} comes from {pkg.source_kind.value} source "
                    f"{pkg.source or '(path)'}; `cargo update` cannot move it.",
                    "Point the git/path dependency or [patch] at libc >= 0.2.146.",
                )
            )
    if sum(1 for p in libcs if _is_old(p)) and len(libcs) > 1:
        old = next(p for p in libcs if _is_old(p))
        out.append(
            Finding(
                Rule.NOT_AUTOFIXABLE,
                Severity.WARNING,
                lock.path,
                old.line,
                f"The lockfile holds {len(libcs)} libc packages; the fix must be "
                "made with cargo, not by editing the lockfile.",
                f"Run `cargo update -p libc@{old.version}`.",
            )
        )
    labels = {
        HintKind.LIBC_PIN: "pins libc below 0.2.146 ({value})",
        HintKind.LIBC_PATCH: "patches libc ({value})",
        HintKind.VENDORED: "vendors crate sources; re-run `cargo vendor` after the fix",
    }
    for hint in ev.hints if root else ():
        if hint.kind in labels:
            out.append(
                Finding(
                    Rule.NOT_AUTOFIXABLE,
                    Severity.WARNING,
                    hint.path,
                    hint.line,
                    "This file " + labels[hint.kind].format(value=hint.value) + ".",
                    "Allow libc >= 0.2.146 here, then run `cargo update -p libc`.",
                )
            )
    return out


def _libc_findings(
    ev: Evidence, lock: Lockfile, uses: Sequence[MuslUse], root: bool
) -> list[Finding]:
    """Return the findings on the libc entries of `lock`, which `uses` build with."""
    findings: list[Finding] = []
    triggers = _triggers(lock, uses)
    trigger_text = _trigger_list(triggers, lock.path)
    fix = _fix_text(ev.fixes, lock.path)
    breaking = _breaking(uses, ev.hints)  # once, not per libc
    breaking_text = _use_list(breaking)
    for pkg in lock.named("libc"):
        version = _version(pkg.version)
        if version is None or version >= LIBC_FIXED:
            continue
        if not uses:
            if ev.latent_notices and root:
                findings.append(
                    Finding(
                        Rule.LATENT,
                        Severity.NOTICE,
                        lock.path,
                        pkg.line,
                        f"libc {pkg.version} predates the musl 1.2.4 fix (0.2.146). "
                        "No musl build was found, but if you ever build for "
                        "*-linux-musl it will not link.",
                        fix,
                    )
                )
            continue
        where = _use_list(uses)
        if version == LIBC_YANKED_FIX:
            findings.append(
                Finding(
                    Rule.LIBC_YANKED,
                    Severity.FAILURE,
                    lock.path,
                    pkg.line,
                    "libc 0.2.145 is yanked: its non-variadic `open64` breaks "
                    "2-argument callers such as getrandom 0.1.9-0.1.16 and "
                    "0.2.0-0.2.8 (error E0061). This project builds for musl at "
                    f"{where}.",
                    fix,
                )
            )
            continue
        if version.major == 0 and version.minor < 2:
            findings.append(
                Finding(
                    Rule.NOT_AUTOFIXABLE,
                    Severity.WARNING,
                    lock.path,
                    pkg.line,
                    f"Legacy libc {pkg.version}: upgrade to libc 0.2.146 or newer "
                    f"before building for musl ({where}).",
                    "Run `cargo update -p libc`.",
                )
            )
            continue
        if not breaking:
            findings.append(
                Finding(
                    Rule.LIBC_MAY_BREAK,
                    Severity.WARNING,
                    lock.path,
                    pkg.line,
                    f"libc {pkg.version} binds LFS64 symbols (open64, ...) that musl "
                    "1.2.4 removed. The pinned toolchain still bundles an older musl, "
                    "but Rust 1.93 (2026-01-22) bundles musl 1.2.5: the musl build "
                    f"at {where} breaks when you update Rust.",
                    fix,
                )
            )
        elif triggers:
            findings.append(
                Finding(
                    Rule.LIBC_LFS64,
                    Severity.FAILURE,
                    lock.path,
                    pkg.line,
                    f"libc {pkg.version} binds LFS64 symbols that musl 1.2.4 removed, "
                    f"and {trigger_text} calls them: the musl build at "
                    f"{breaking_text} will fail to link (undefined reference "
                    "to `open64`). Rust 1.93 (2026-01-22) bundles musl 1.2.5.",
                    fix,
                )
            )
        else:
            findings.append(
                Finding(
                    Rule.LIBC_MAY_BREAK,
                    Severity.WARNING,
                    lock.path,
                    pkg.line,
                    f"libc {pkg.version} binds LFS64 symbols that musl 1.2.4 removed. "
                    "No known caller (old getrandom or tempfile) is locked, but any "
                    "crate calling open64/fstat64/... will fail to link in the musl "
                    f"build at {breaking_text}. Rust 1.93 (2026-01-22) bundles "
                    "musl 1.2.5.",
                    fix,
                )
            )
    if uses and any(_is_old(p) for p in lock.named("libc")):
        findings.extend(_blockers(ev, lock, root))
    return findings


def _old_std(ev: Evidence) -> list[Finding]:
    """Rust <= 1.71 std binds LFS64 names itself; a system musl >= 1.2.4 breaks it."""
    system = [
        h for h in ev.hints if h.kind in (HintKind.SYSTEM_MUSL, HintKind.DYNAMIC_MUSL)
    ]
    if not system or not ev.uses:
        return []
    out: list[Finding] = []
    for hint in ev.hints:
        if hint.kind is not HintKind.TOOLCHAIN:
            continue
        pin = parse_rust_version(hint.value)
        if pin is not None and pin < _RUST_STD_FIXED:
            out.append(
                Finding(
                    Rule.OLD_STD,
                    Severity.WARNING,
                    hint.path,
                    hint.line,
                    f"Rust {hint.value}'s own std references LFS64 symbols; linking it "
                    f"against a system musl >= 1.2.4 ({system[0].value} at "
                    f"{system[0].path}:{system[0].line}) fails whatever the libc "
                    "crate version.",
                    "Use Rust 1.72 or newer.",
                )
            )
    return out


_UNSURE: Final = " (the verdict cannot be sure without it)"


def _problem_findings(problems: Sequence[Problem]) -> list[Finding]:
    return [
        Finding(
            Rule.UNREADABLE,
            Severity.WARNING,
            p.path,
            p.line,
            p.message + (_UNSURE if p.unread else ""),
        )
        for p in problems
    ]


def _unsure(ev: Evidence, used: set[str]) -> bool:
    """Return whether something that may change the verdict was not read.

    The root lockfile or one a musl build uses; any configuration file the
    scanners could not read (it may hold a musl build); a file walk cut short
    (a problem with no path).
    """
    if any(p == ROOT_LOCKFILE or p in used for p in ev.unread_lockfiles):
        return True
    return any(p.unread and not is_lockfile(p.path) for p in ev.problems)


def add_problems(report: Report, problems: Sequence[Problem]) -> Report:
    """Return `report` with problems met before the analysis added.

    What a file walk left out or a file not fetched (too big) may hold a
    musl build or the lockfile one uses: each is a warning, and the verdict
    becomes could-not-analyse unless a build is already known to break.
    """
    if not problems:
        return report
    verdict = report.verdict
    if verdict is not Verdict.AT_RISK and any(p.unread for p in problems):
        verdict = Verdict.COULD_NOT_ANALYSE
    return dataclasses.replace(
        report,
        verdict=verdict,
        # What has no path (a walk cut short) is said in the summary, not
        # on a line of a file.
        findings=(
            *report.findings,
            *_problem_findings([p for p in problems if p.path]),
        ),
        problems=(*report.problems, *problems),
    )


def nearest_lockfile(project: str, lockfiles: frozenset[str]) -> str | None:
    """Return the Cargo.lock nearest at or above directory `project`, if any.

    Cargo looks for the workspace root from the manifest upwards and keeps
    the lockfile there (https://doc.rust-lang.org/cargo/reference/workspaces.html).
    """
    parts = project.split("/") if project else []
    while True:
        candidate = "/".join([*parts, LOCKFILE_NAME])
        if candidate in lockfiles:
            return candidate
        if not parts:
            return None
        parts.pop()


def _resolve(ev: Evidence) -> tuple[MuslUse, ...]:
    """Return the uses with the lockfile each one builds with filled in."""
    locks = [lock.path for lock in ev.nested]
    if ev.root is not None:
        locks.append(ev.root.path)
    paths = frozenset((*locks, *ev.unread_lockfiles))
    found: dict[str, str | None] = {}
    out = []
    for use in ev.uses:
        if use.project not in found:
            found[use.project] = nearest_lockfile(use.project, paths)
        lockfile = found[use.project]
        if lockfile != use.lockfile:  # a new value: cheaper than dataclasses.replace
            use = MuslUse(
                use.path, use.line, use.target, use.kind, use.implicit,
                use.resolves_to, use.project, lockfile,
            )  # fmt: skip
        out.append(use)
    return tuple(out)


def decide(ev: Evidence) -> Report:
    """Apply the rules (docs/domain.md section 9) and return the report.

    Each musl use is judged against the lockfile it builds with
    (`MuslUse.lockfile`); the root lockfile with no use gets the latent
    notice, nested ones that no build uses stay quiet.
    """
    findings: list[Finding] = []
    uses = _resolve(ev)
    by_lock: dict[str, list[MuslUse]] = {}
    for use in uses:
        if use.lockfile is not None:
            by_lock.setdefault(use.lockfile, []).append(use)
    old = False  # a lockfile a musl build uses holds an old libc
    if ev.root is not None:
        root_uses = by_lock.get(ev.root.path, [])
        findings.extend(_libc_findings(ev, ev.root, root_uses, True))
        old = bool(root_uses) and any(_is_old(p) for p in ev.root.named("libc"))
    for lock in ev.nested:
        lock_uses = by_lock.get(lock.path)
        if lock_uses:
            findings.extend(_libc_findings(ev, lock, lock_uses, False))
            old = old or any(_is_old(p) for p in lock.named("libc"))
    findings.extend(_old_std(ev))
    findings.extend(_problem_findings(ev.problems))
    root_old = ev.root is not None and any(_is_old(p) for p in ev.root.named("libc"))
    musl = bool(ev.uses)
    if old:
        verdict = Verdict.AT_RISK
    elif _unsure(ev, set(by_lock)):
        verdict = Verdict.COULD_NOT_ANALYSE
    elif musl:
        verdict = Verdict.MUSL_LIBC_OK
    elif root_old:
        verdict = Verdict.OLD_LIBC
    else:
        verdict = Verdict.CLEAN
    lockfiles = ((ev.root,) if ev.root is not None else ()) + ev.nested
    return Report(
        verdict=verdict,
        lockfiles=lockfiles,
        musl_uses=uses,
        findings=tuple(findings),
        hints=ev.hints,
        problems=ev.problems,
        fixes=ev.fixes,
        root_lockfile=ev.root.path if ev.root is not None else None,
    )
